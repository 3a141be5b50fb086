package sim

// shopToolsJSON is a shop-like tool set, plus the weather tool the
// post-mortem's loops kept calling.
const shopToolsJSON = `[
{"type":"function","function":{"name":"get_order_status","description":"Get the status of an order","parameters":{"type":"object","properties":{"order_id":{"type":"string","description":"The order number"}},"required":["order_id"]}}},
{"type":"function","function":{"name":"track_shipment","description":"Track the shipment of an order","parameters":{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}}},
{"type":"function","function":{"name":"create_return","description":"Create a return and refund for an order","parameters":{"type":"object","properties":{"order_id":{"type":"string"},"reason":{"type":"string"}},"required":["order_id","reason"]}}},
{"type":"function","function":{"name":"search_products","description":"Search the product catalog","parameters":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}},
{"type":"function","function":{"name":"get_weather","description":"Current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}
]`
