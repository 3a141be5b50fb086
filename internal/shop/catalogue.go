package shop

import "strconv"

// category is one aisle of the built-in catalogue; its SKUs start with
// prefix.
type category struct {
	name   string
	prefix string
	items  []baseItem
}

// baseItem is one product line; each variant is a product of its own (a
// colour, size or capacity), as shops sell them.
type baseItem struct {
	name     string
	desc     string
	price    Money
	variants []variant
}

type variant struct {
	label string
	delta Money // added to the base price
}

// colours builds variants that cost the same.
func colours(labels ...string) []variant {
	v := make([]variant, len(labels))
	for i, l := range labels {
		v[i] = variant{label: l}
	}
	return v
}

// catalogue is the shop's fixed assortment: 10 categories of 5 product
// lines of 4 variants, 200 products. Names, descriptions and prices are
// part of the ground truth evaluators check answers against, so changing
// them changes every golden file.
var catalogue = []category{
	{"audio", "AUD", []baseItem{
		{"Aurora ANC Wireless Headphones", "Over-ear Bluetooth headphones with active noise cancelling and a 30-hour battery.", 17900, colours("Black", "White", "Navy", "Sand")},
		{"Pulse True Wireless Earbuds", "In-ear earbuds with a charging case, splash resistant (IPX4).", 8990, colours("Black", "White", "Mint", "Graphite")},
		{"Boom Portable Bluetooth Speaker", "Waterproof speaker with deep bass and a 12-hour battery.", 6900, colours("Red", "Blue", "Black", "Olive")},
		{"Studio USB Microphone", "Cardioid condenser microphone for podcasts and streaming.", 11900, []variant{{"Standard", 0}, {"with Boom Arm", 3000}, {"with Shock Mount", 1500}, {"Creator Bundle", 4900}}},
		{"Vinyl Turntable", "Belt-drive record player with a built-in preamp.", 24900, colours("Walnut", "Black", "White", "Oak")},
	}},
	{"computing", "CMP", []baseItem{
		{"Ergo Wireless Mouse", "Ergonomic silent-click mouse, Bluetooth and USB receiver.", 3990, colours("Graphite", "Silver", "Rose", "Blue")},
		{"Mechanical Keyboard", "Hot-swappable mechanical keyboard with RGB backlight.", 9900, colours("Red Switches", "Brown Switches", "Blue Switches", "Silent Switches")},
		{"ClearView 4K Monitor", "IPS monitor with USB-C power delivery and a height-adjustable stand.", 34900, []variant{{"24-inch", -10000}, {"27-inch", 0}, {"32-inch", 15000}, {"27-inch Matte", 4000}}},
		{"Portable SSD", "USB-C external solid-state drive, up to 1,050 MB/s.", 6900, []variant{{"500 GB", 0}, {"1 TB", 3000}, {"2 TB", 10000}, {"4 TB", 23000}}},
		{"USB-C Docking Station", "Laptop dock with HDMI, Ethernet, SD card reader and 100 W charging.", 12900, []variant{{"8-in-1", 0}, {"11-in-1", 4000}, {"13-in-1", 7000}, {"Travel", -5000}}},
	}},
	{"phones", "PHN", []baseItem{
		{"GaN Fast Charger 65W", "Compact USB-C wall charger for phones, tablets and laptops.", 3990, []variant{{"1-Port White", 0}, {"1-Port Black", 0}, {"2-Port", 1000}, {"3-Port", 2000}}},
		{"Slim Phone Case", "Shock-absorbing phone case with a soft-touch finish.", 2490, colours("Black", "Clear", "Lavender", "Forest")},
		{"Tempered Glass Screen Protector 2-Pack", "Scratch-resistant glass with an installation frame.", 1490, []variant{{"6.1-inch", 0}, {"6.3-inch", 0}, {"6.7-inch", 200}, {"6.8-inch", 200}}},
		{"Power Bank 20,000 mAh", "Portable battery with USB-C fast charging for two devices.", 4990, colours("Black", "White", "Blue", "Pink")},
		{"Stride Smartwatch", "Fitness smartwatch with GPS, heart-rate and sleep tracking.", 19900, []variant{{"41 mm Black", 0}, {"41 mm Silver", 0}, {"45 mm Black", 2000}, {"45 mm Silver", 2000}}},
	}},
	{"home", "HOM", []baseItem{
		{"Smart LED Bulb E27", "Dimmable Wi-Fi bulb that works with voice assistants.", 1490, []variant{{"1-Pack", 0}, {"2-Pack", 1200}, {"4-Pack", 3500}, {"Colour 1-Pack", 800}}},
		{"Robot Vacuum Cleaner", "Lidar-navigated robot vacuum with app control.", 29900, []variant{{"Standard", 0}, {"Mop Edition", 8000}, {"Self-Emptying", 20000}, {"Pet Edition", 5000}}},
		{"HEPA Air Purifier", "Quiet air purifier with a true HEPA filter and air-quality sensor.", 14900, []variant{{"Small Room", 0}, {"Medium Room", 5000}, {"Large Room", 10000}, {"Bedroom Edition", 2000}}},
		{"Memory Foam Pillow", "Contoured pillow with a washable bamboo cover.", 3990, []variant{{"Standard", 0}, {"King", 1000}, {"Cooling", 1500}, {"Kids", -1000}}},
		{"Linen Duvet Cover", "Stonewashed European linen duvet cover, 200 x 200 cm.", 8900, colours("White", "Sage", "Terracotta", "Grey")},
	}},
	{"kitchen", "KIT", []baseItem{
		{"Burr Coffee Grinder", "Conical burr coffee grinder with 40 grind settings.", 12900, colours("Black", "Silver", "Cream", "Matte White")},
		{"Espresso Machine", "15-bar espresso machine with a steam wand for milk.", 44900, colours("Silver", "Black", "Red", "Cream")},
		{"Chef's Knife 20 cm", "Forged stainless-steel chef's knife, full tang.", 7900, []variant{{"Classic", 0}, {"Damascus", 6000}, {"Black Edition", 1000}, {"Olive Wood Handle", 2000}}},
		{"Cast Iron Skillet", "Pre-seasoned cast iron pan for every hob and the oven.", 4990, []variant{{"20 cm", -1000}, {"26 cm", 0}, {"30 cm", 1500}, {"Enamelled 26 cm", 2500}}},
		{"Electric Kettle 1.7 L", "Fast-boil kettle with temperature control and keep-warm.", 5900, colours("Stainless", "Black", "White", "Glass")},
	}},
	{"shoes", "SHO", []baseItem{
		{"Trailblazer Running Shoes", "Lightweight running shoes with a cushioned sole for road and trail.", 11900, colours("EU 40", "EU 42", "EU 44", "EU 46")},
		{"Classic Leather Sneakers", "Minimal white leather sneakers with a rubber cupsole.", 9900, colours("EU 38", "EU 40", "EU 42", "EU 44")},
		{"Waterproof Hiking Boots", "Mid-cut hiking boots with a waterproof membrane and grippy sole.", 16900, colours("EU 39", "EU 41", "EU 43", "EU 45")},
		{"Slip-On Canvas Shoes", "Breathable canvas slip-ons for everyday wear.", 4990, colours("Navy", "White", "Black", "Red")},
		{"Wool House Slippers", "Felted wool slippers with a non-slip sole.", 3900, colours("S", "M", "L", "XL")},
	}},
	{"sports", "SPT", []baseItem{
		{"Yoga Mat 6 mm", "Non-slip yoga mat with a carrying strap.", 3490, colours("Purple", "Teal", "Black", "Sand")},
		{"Adjustable Dumbbells", "Quick-change dumbbells that replace a full rack.", 19900, []variant{{"Pair 10 kg", -8000}, {"Pair 20 kg", 0}, {"Pair 24 kg", 6000}, {"Pair 32 kg", 14000}}},
		{"Road Bike Helmet", "Ventilated cycling helmet with a rear light.", 8900, []variant{{"S", 0}, {"M", 0}, {"L", 0}, {"MIPS M", 3000}}},
		{"Insulated Water Bottle 750 ml", "Double-wall steel bottle, cold for 24 hours.", 2490, colours("Steel", "Black", "Forest", "Coral")},
		{"Fitness Tracker Band", "Slim activity tracker with heart rate and a 10-day battery.", 5900, colours("Black", "Blue", "Pink", "Lime")},
	}},
	{"outdoor", "OUT", []baseItem{
		{"2-Person Tent", "Freestanding backpacking tent that pitches in five minutes.", 18900, []variant{{"Green", 0}, {"Orange", 0}, {"Grey", 0}, {"Ultralight", 8000}}},
		{"Down Sleeping Bag", "Mummy sleeping bag with responsibly sourced down.", 15900, []variant{{"Regular", 0}, {"Long", 2000}, {"Winter", 6000}, {"Summer", -4000}}},
		{"Hiking Backpack 35 L", "Ventilated daypack with a rain cover and hip belt.", 12900, colours("Black", "Blue", "Red", "Olive")},
		{"LED Headlamp", "Bright headlamp with red light and a tilting beam.", 2990, []variant{{"300 lm", 0}, {"500 lm", 1000}, {"800 lm", 2500}, {"Rechargeable", 1500}}},
		{"Camping Stove", "Compact gas stove for boiling water in three minutes.", 4900, []variant{{"Solo", 0}, {"Duo", 2000}, {"Cartridge Bundle", 1500}, {"Titanium", 4000}}},
	}},
	{"clothing", "CLO", []baseItem{
		{"Rain Jacket", "Breathable waterproof shell jacket with a hood.", 13900, colours("S", "M", "L", "XL")},
		{"Merino Wool T-Shirt", "Soft merino tee that stays fresh for days.", 5900, colours("S", "M", "L", "XL")},
		{"Down Puffer Jacket", "Warm, packable down jacket for winter.", 19900, colours("S", "M", "L", "XL")},
		{"Organic Cotton Hoodie", "Heavyweight hoodie made of organic cotton.", 6900, colours("Grey", "Navy", "Black", "Oat")},
		{"Running Socks 3-Pack", "Cushioned, blister-free running socks.", 1990, colours("S", "M", "L", "XL")},
	}},
	{"toys", "TOY", []baseItem{
		{"Wooden Building Blocks", "Beech-wood blocks in natural colours, for ages 2 and up.", 3990, []variant{{"50 pcs", -1000}, {"100 pcs", 0}, {"150 pcs", 1500}, {"250 pcs", 3000}}},
		{"Remote Control Car", "Rechargeable RC car with all-wheel drive.", 5900, []variant{{"Red", 0}, {"Blue", 0}, {"Off-Road", 2000}, {"Racing", 1000}}},
		{"Strategy Board Game", "Award-winning board game for 2 to 5 players.", 4490, colours("English Edition", "German Edition", "French Edition", "Spanish Edition")},
		{"1000-Piece Jigsaw Puzzle", "Premium puzzle with a poster of the picture.", 1990, colours("Mountains", "City at Night", "Ocean", "World Map")},
		{"Plush Teddy Bear", "Soft, machine-washable teddy bear.", 2490, []variant{{"Small", -500}, {"Medium", 0}, {"Large", 1500}, {"Giant", 4000}}},
	}},
}

// catalogProduct is one product of the catalogue before stock is seeded.
type catalogProduct struct {
	sku, name, category, desc string
	price                     Money
}

// catalogProducts flattens the catalogue. SKUs are the category prefix and
// 10000 + 1000·category + 10·line + variant, e.g. AUD-10000 and SHO-15013:
// they match the sim's SKU pattern [A-Z]{2,5}-\d{2,6}.
func catalogProducts() []catalogProduct {
	var out []catalogProduct
	for ci, c := range catalogue {
		for bi, b := range c.items {
			for vi, v := range b.variants {
				n := 10000 + 1000*ci + 10*bi + vi
				out = append(out, catalogProduct{
					sku:      c.prefix + "-" + strconv.Itoa(n),
					name:     b.name + ", " + v.label,
					category: c.name,
					desc:     b.desc,
					price:    b.price + v.delta,
				})
			}
		}
	}
	return out
}

// Categories returns the catalogue's category names in catalogue order
// (audio, computing, phones, home, kitchen, shoes, sports, outdoor,
// clothing, toys). Each call returns a fresh slice.
func Categories() []string {
	out := make([]string, len(catalogue))
	for i, c := range catalogue {
		out[i] = c.name
	}
	return out
}

func isCategory(s string) bool {
	for _, c := range catalogue {
		if c.name == s {
			return true
		}
	}
	return false
}
