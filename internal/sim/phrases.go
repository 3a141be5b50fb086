package sim

import (
	"strings"
)

// Canned texts. Every one is 20–40 tokens, since length drives timing and
// cost.

var smallTalkReplies = []string{
	"Hello! Thanks for reaching out. I can help you with your orders, deliveries, returns and refunds, or questions about our products. What can I do for you today?",
	"Hi there! I'm the shop's virtual assistant. Ask me about an order, a delivery, a return or anything in our catalogue, and I'll do my best to help.",
	"Thanks for your message! I'm here to help with order status, shipment tracking, returns and refunds, and product questions. How can I help you today?",
	"Good to hear from you! Whenever you need help with an order, a parcel, a refund or a product, I'm here. Is there anything I can do for you right now?",
}

var thanksReplies = []string{
	"You're very welcome! I'm glad I could help. If anything else comes up about your order, a delivery or our products, just send me a message.",
	"My pleasure! If you have any other questions about your orders, deliveries or returns, I'm here to help. Have a great day!",
	"Happy to help! Don't hesitate to reach out again if anything else comes up with your order or a delivery. Take care!",
}

// thanksWords pick a thank-you reply over a greeting.
var thanksWords = []string{"thank", "thx", "cheers", "bye", "danke", "merci", "gracias", "tschüss", "adiós", "au revoir"}

// smallTalkReply answers greetings and thanks.
func smallTalkReply(text string, r *rng) string {
	for _, w := range thanksWords {
		if containsFold(text, w) {
			return r.pick(thanksReplies)
		}
	}
	return r.pick(smallTalkReplies)
}

var unknownReplies = []string{
	"I'm sorry, I'm not sure I understood your request. I can help with order status, deliveries, returns and refunds, or product questions. Could you tell me a bit more?",
	"I'd like to help, but I didn't quite catch what you need. Could you rephrase it? For example, you can ask me where your order is or how to return an item.",
	"Thanks for your message. I'm not certain what you're asking about. If it concerns an order, please include the order number so I can look it up for you.",
	"I'm afraid I can't help with that directly. I can check orders and deliveries, start returns and refunds, and answer questions about our products. What would you like to do?",
}

var closings = []string{
	" Is there anything else I can help you with?",
	" Let me know if you need anything else.",
	" Is there anything else I can do for you today?",
	" Feel free to ask if you have any other questions.",
}

var openers = []string{"", "", "", "Thanks for waiting. ", "I've looked into it for you. ", "Good news, I found it. "}

// clarifyQuestion asks for a required parameter the user did not give.
func clarifyQuestion(p *param, r *rng) string {
	switch p.fill {
	case fillOrder:
		return r.pick([]string{
			"Could you tell me your order number? You'll find it in your order confirmation email, and then I can check everything for you right away.",
			"I'd be happy to help with that. Could you tell me your order number? It's the number in your confirmation email.",
		})
	case fillTracking:
		return "Could you tell me your tracking number or your order number? Then I can check where your parcel is right away."
	case fillEmail:
		return "Could you tell me the email address you used for your order? Then I can look up your details and help you further."
	case fillPhone:
		return "Could you tell me the phone number on your account? Then I can look up your details and help you further."
	case fillSKU, fillQuery:
		return "Which product are you asking about? A product name or the SKU from the product page helps me find it for you quickly."
	}
	name := strings.ReplaceAll(p.name, "_", " ")
	return "Could you tell me the " + name + " for this request? I need it before I can look this up and help you further."
}

// noToolAnswer answers a request that would need a tool when none fits.
func noToolAnswer(t *turn, r *rng) string {
	order := firstOf(t.ents, entOrder)
	switch t.cls.primary {
	case intentOrderStatus, intentShipment:
		if order != "" {
			return "I can't look that up right now, but I've noted your order number " + order +
				". Our team will check its status and get back to you by email shortly." + r.pick(closings)
		}
		return "I can't look up orders right now. If you share your order number, our team will check its status and get back to you by email shortly."
	case intentReturn:
		if order != "" {
			return "I can't start the return from here right now, but I've noted order " + order +
				". You can return items within 30 days from your account page, and the refund is issued once we receive them."
		}
		return "I can't start a return from here right now. You can return items within 30 days from your account page, and the refund is issued once we receive them."
	case intentProduct:
		if sku := firstOf(t.ents, entSKU); sku != "" {
			return "I can't check our catalogue right now. The product page for " + sku +
				" shows its current price and availability, and our team can answer any other questions about it."
		}
		return "I can't check our catalogue right now. Our product pages show current prices and availability, and our team is happy to recommend something if you tell us what you need."
	}
	return r.pick(unknownReplies)
}

// recallAnswer answers a question about an earlier fact from the context
// the request carries: the first (or last) entity of the kind asked for.
func recallAnswer(t *turn, r *rng) string {
	var found string
	for i := range t.req.Messages {
		if i == t.lastUser {
			continue
		}
		for _, e := range extractEntities(t.req.Messages[i].Content.String()) {
			if e.kind != t.cls.recallKind {
				continue
			}
			if found == "" || t.cls.recallLast {
				found = e.value
			}
		}
	}
	if found == "" {
		return "I'm sorry, I don't have that information. Could you tell me again, please? Then I can help you right away."
	}
	var s string
	switch t.cls.recallKind {
	case entOrder:
		s = "The order number you gave me was " + found + "."
	case entTracking:
		s = "Your tracking number is " + found + "."
	case entEmail:
		s = "Your email address is " + found + "."
	case entPhone:
		s = "Your phone number is " + found + "."
	case entSKU:
		s = "The product you asked about was " + found + "."
	default:
		s = "The amount was " + found + "."
	}
	return s + " I've kept it noted for this conversation." + r.pick(closings)
}
