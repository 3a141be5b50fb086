package intent

import "slices"

// Built-in intent names: the customer-service intents floodgate's simulated
// provider recognises (internal/sim: order_status, shipment_tracking,
// return_refund, product_question, small_talk) plus account, complaint and
// other (the sim's "unknown").
const (
	OrderStatus      = "order_status"
	ShipmentTracking = "shipment_tracking"
	ReturnRefund     = "return_refund"
	ProductQuestion  = "product_question"
	SmallTalk        = "small_talk"
	Account          = "account"
	Complaint        = "complaint"
	Other            = "other"
)

// Builtin returns the built-in customer-service rule set (English with
// common German, French and Spanish words), a fresh copy on each call.
// Intents are in priority order: on equal evidence the earlier wins.
// Complexities follow what a small model gets right (internal/sim's
// accuracy classes): order status, tracking and small talk are simple;
// product questions, account questions and anything else standard;
// returns and complaints complex.
func Builtin() Config {
	return Config{
		Fallback: Other,
		Intents: []IntentConfig{
			{
				Name:        ReturnRefund,
				Description: "returns, refunds, exchanges, cancellations, damaged, defective, wrong or missing items",
				Complexity:  Complex,
				Absorbs:     []string{OrderStatus, ShipmentTracking, Complaint},
				Patterns:    []string{`\bR-\d{5,7}\b`},
				Keywords: []string{
					"return*", "retour*", "retourn*", "refund*", "reimburs*", "money back", "my money", "store credit",
					"charged twice", "double charged", "send back", "send it back", "sent it back", "sent back",
					"sent the item back", "take it back", "bring it back", "return label", "return policy",
					"exchange*", "swap", "replace*", "replacement", "cancel*", "storn*", "annul*", "cancela*",
					"damaged", "damage", "broken", "broke", "defect*", "faulty", "fell apart", "falling apart",
					"won't turn on",
					"doesn't turn on", "hole in", "missing from", "were missing", "is missing", "are missing",
					"scratched", "torn", "ripped", "wrong item", "wrong size", "wrong colour",
					"wrong color", "wrong one", "wrong product", "different colour", "different color",
					"bigger size", "smaller size", "larger size", "different size", "another size",
					"doesn't fit", "does not fit", "didn't fit", "too small", "too big", "too large", "too tight",
					"changed my mind", "by mistake", "by accident", "never asked for", "didn't order",
					"did not order", "ordered the wrong", "no longer need", "don't need it", "instead of",
					// German
					"rückgabe", "zurückgeben", "zurücksenden", "zurückschicken", "zurückschick*", "rücksend*",
					"erstatt*", "rückerstatt*", "geld zurück", "mein geld", "beschädigt", "kaputt", "defekt*",
					"umtausch*", "funktioniert nicht", "passt nicht", "zu klein", "zu groß", "falschen artikel",
					"falsche artikel", "falsche größe", "zurückgeschickt", "geld",
					// French
					"rembours*", "renvoyer", "renvoi", "échang*", "endommagé*", "abîmé*", "cassé*",
					"défectueu*", "ne marche pas", "ne fonctionne pas", "mauvais article", "mauvaise taille",
					"trop petit*", "trop grand*",
					// Spanish
					"devol*", "reembols*", "mi dinero", "dañad*", "roto", "rota", "rotos", "rotas",
					"defectuos*", "no funciona", "equivocad*", "cambiar la talla",
				},
				Hints: []string{"back", "wrong", "receipt", "doesn't work", "does not work", "not working", "stopped working"},
			},
			{
				Name:        Complaint,
				Description: "complaints about the service, anger, asking for a human, a manager or a supervisor",
				Complexity:  Complex,
				Absorbs:     []string{OrderStatus, ShipmentTracking},
				Keywords: []string{
					"worst", "terrible", "horrible", "awful", "appalling", "atrocious", "unacceptable",
					"not acceptable", "ridiculous", "absurd", "is a joke", "disgust*", "disappoint*",
					"what a joke", "furious", "angry", "livid", "upset", "fed up", "sick of", "sick and tired", "had enough",
					"rude", "unhelpful", "useless", "incompetent", "scam", "fraud", "complain*", "complaint*",
					"bad review", "never shopping", "never again", "never buy", "never order", "manager",
					"supervisor", "escalate*", "human", "real person", "a person",
					"in charge", "speak to", "talk to", "speak with", "talk with", "nobody", "no one", "noone",
					"ignored", "ignoring", "unhappy", "dissatisfied", "not happy", "five times", "third time",
					"so many times", "several times", "take so long", "takes so long", "taking so long",
					"shameful", "pathetic", "lousy", "poor service", "bad service",
					// German
					"beschwer*", "frechheit", "katastrophe", "enttäuscht", "unverschämt", "vorgesetzt*",
					"mitarbeiter", "niemand", "unmöglich", "sauer", "wütend", "menschen",
					"schlechter service",
					// French
					"inadmissible", "inacceptable", "nul", "nulle", "lamentable", "honteux", "honte",
					"scandale*", "scandaleu*", "réclamation", "responsable", "humain", "déçu*", "furieu*",
					"personne ne", "en colère", "parler à", "parler avec", "plainte", "troisième fois",
					// Spanish
					"queja", "quejarme", "reclamación", "reclamo", "pésim*", "inaceptable", "vergüenza",
					"decepcionad*", "una persona", "un humano", "nadie", "hablar con", "indignad*", "harto",
					"harta",
				},
				Hints: []string{"service", "servicio", "support team", "waiting for weeks", "still waiting"},
			},
			{
				Name:        Account,
				Description: "the customer account: log-in, password, e-mail, profile, addresses, payment details, newsletter, personal data",
				Complexity:  Standard,
				HintPatterns: []string{
					`[\w.+-]+@[\w-]+\.[\w.]+`,
				},
				Keywords: []string{
					"password*", "log in", "login", "log into", "logged out", "sign in", "signin", "sign up",
					"account*", "username", "user name", "email address", "e-mail address", "change my email",
					"my email", "newsletter*", "unsubscribe", "opt out", "marketing email*",
					"promotional", "spam", "personal data", "my data", "gdpr", "delete my", "close my", "profile",
					"two-factor", "2fa", "authentication", "verification", "verify", "credit card", "saved card",
					"payment method*", "payment details", "billing", "loyalty", "rewards", "invoice*",
					"phone number", "shipping address", "delivery address", "billing address", "change my address",
					"update my address", "my address", "locked", "locked out", "blocked", "reset", "forgot",
					"forgotten", "create an account", "register*", "merge", "notification*", "text message*", "sms", "dirección de envío", "numéro de téléphone", "telefonnummer", "número de teléfono",
					// German
					"passwort*", "konto*", "kundenkonto", "e-mail-adresse", "anmelden", "einloggen", "abmelden",
					"abmeld*", "gesperrt", "zurücksetzen", "vergessen", "rechnung*", "lieferadresse", "adresse ändern",
					"registrier*",
					// French
					"mot de passe", "compte*", "connecter", "connexion", "bloqué*", "désabonner", "désinscrire",
					"oublié", "facture*", "créer un compte", "adresse e-mail", "adresse mail",
					// Spanish
					"contraseña", "cuenta", "cuentas", "mi cuenta", "iniciar sesión", "entrar en mi cuenta", "bloquead*", "darme de baja",
					"dar de baja", "de baja", "boletín", "restablec*", "olvidé", "factura*", "correo electrónico",
					"correo",
				},
				Hints: []string{"email", "e-mail", "emails", "address", "points", "card", "profil", "data", "code"},
			},
			{
				Name:        ShipmentTracking,
				Description: "delivery and shipment: tracking numbers, carriers, delivery dates, parcels in transit or lost in delivery",
				Complexity:  Simple,
				Absorbs:     []string{OrderStatus},
				Patterns:    []string{`\b1Z[0-9A-Z]{16}\b`, `\b[A-Z]{2}\d{9}[A-Z]{2}\b`},
				Keywords: []string{
					"track*", "deliver*", "shipped", "shipping", "shipment*", "ship", "parcel*", "package*",
					"courier*", "carrier", "arriv*", "dispatch*", "in transit", "transit", "customs", "eta",
					"driver", "dhl", "ups", "fedex", "dpd", "gls", "hermes", "usps", "royal mail", "get here",
					"come today", "expect my", "expect the", "label created", "redirect", "rebook",
					"left a note", "nothing at my door", "hasn't shown up", "when will my order",
					"when does order", "when does my order", "sent out", "shipping available", "delivery available", "shipping cost*", "delivery cost*", "verschick*",
					// German
					"sendung*", "paket*", "liefer*", "geliefert", "versand*", "zustell*", "ankommen", "kommt an",
					"wann kommt", "zoll", "paketdienst",
					// French
					"colis", "livraison", "livr*", "livreur", "expédi*", "transporteur", "suivi", "douane",
					// Spanish
					"envío", "envio", "enviado", "enviaron", "paquete*", "seguimiento", "entrega*", "entregó",
					"lleg*", "mensajería", "transportista", "repartidor", "aduana",
				},
			},
			{
				Name:        OrderStatus,
				Description: "the status of an order: where it is, whether it was received, confirmed or processed",
				Complexity:  Simple,
				Absorbs:     []string{ShipmentTracking},
				HintPatterns: []string{
					`(?:^|[^\w-])#?\d{5,9}\b`,
				},
				Keywords: []string{
					"where is my order", "where's my order", "wheres my order", "where is the order",
					"where is order", "where are my orders", "where my order", "where order", "status of", "what's the status", "order status", "status of my order",
					"status of order", "status of the order", "status on", "status for order", "check my order",
					"check on my order", "check order", "check the order", "look up my order", "look up order",
					"look into my order", "pull up my order", "what happened to my order",
					"what's happening with my order", "what's up with my order",
					"has my order", "is my order", "did my order", "my order still", "update on my order",
					"update on order", "an update on", "any update", "any news", "news on",
					"heard anything", "haven't heard", "no confirmation", "been processed", "being processed",
					"processed yet", "went through", "confirm my order", "confirm that order", "been confirmed",
					"is confirmed", "confirmed", "received my order", "got my order", "my order number",
					"order number", "stuff i ordered", "placed an order", "i placed", "waiting for my order",
					// German
					"wo ist meine bestellung", "bestellstatus", "status meiner bestellung", "status der bestellung",
					"bestellnummer", "neuigkeiten", "bearbeitet", "bestätigt",
					"gibt es neuigkeiten", "was ist mit meiner bestellung", "nachsehen", "prüfen",
					// French
					"où est ma commande", "statut de ma commande", "état de ma commande", "où en est",
					"nouvelles de ma commande", "des nouvelles", "avez-vous des nouvelles", "aucune nouvelle",
					"pas de nouvelles", "vérifier ma commande", "confirmée", "passé une commande",
					// Spanish
					"dónde está mi pedido", "estado de mi pedido", "estado del pedido", "novedades", "procesado",
					"revisar mi pedido", "hice un pedido", "se confirmó", "confirmado", "cómo va mi pedido",
				},
				Hints: []string{
					"order*", "my order", "the order", "purchase*", "status", "update", "bestell*",
					"meine bestellung", "commande*", "ma commande", "statut", "pedido*", "mi pedido", "estado",
				},
			},
			{
				Name:        ProductQuestion,
				Description: "products: availability, stock, prices, sizes, colours, features, comparisons and recommendations",
				Complexity:  Standard,
				Patterns:    []string{`\b[A-Z]{2,5}-\d{2,6}\b`},
				Keywords: []string{
					"do you have", "do u have", "do you sell", "do you carry", "do you stock", "do you offer",
					"do you make", "got any", "have any", "in stock", "back in stock", "out of stock", "stock",
					"restock*", "price*", "pricing", "how much is", "how much are", "how much does",
					"how much do", "cost of", "cost", "costs", "expensive", "cheap*", "discount*",
					"recommend*", "suggest*", "advice", "advise", "should i buy", "should i get", "looking for",
					"i need a", "i need new", "need new", "availab*", "waterproof", "water resistant",
					"warranty", "guarantee", "material", "made of", "made from", "difference between",
					"difference", "compare*", "comparison", "versus", "compatible", "true to size", "wide fit",
					"in size", "size chart", "sizing", "come in", "comes in", "come with", "comes with",
					"machine wash*", "washable", "how heavy", "weight", "weigh*", "how warm", "how big",
					"dimensions", "lightest", "warmest", "cheapest", "best", "good for", "suitable", "specs",
					"specifications", "batteries", "battery", "rechargeable", "ethically", "sustainab*",
					"noise cancel*", "features", "sku", "does it fit", "fit as", "fit in", "carry-on", "how many liters", "liters", "litres", "capacity",
					// German
					"haben sie", "habt ihr", "gibt es", "auf lager", "vorrätig", "preis*", "kostet", "kosten",
					"empfehl*", "verfügbar*", "wasserdicht", "welche größe", "in größe", "wie schwer", "wie warm",
					"unterschied", "verkauft ihr", "verkaufen sie",
					// French
					"avez-vous", "vous avez", "auriez-vous", "vendez-vous", "vous vendez", "en stock", "prix",
					"combien coûte", "coûte", "combien", "recommand*", "conseill*", "disponible*", "en taille",
					"imperméable", "étanche", "différence", "existe", "convient",
					// Spanish
					"tienen", "tienes", "venden", "vendéis", "precio*", "cuánto cuesta", "cuesta",
					"recomiend*", "recomendar", "en talla", "impermeable", "diferencia", "hay stock",
				},
				Hints: []string{
					"product*", "produkt*", "produit*", "producto*", "size*", "colour*", "color*", "größe",
					"taille", "talla", "modell*", "modèle*", "modelo*",
					"jacket*", "boot", "boots", "shoe*", "sneaker*", "trainer*", "runners", "tent*", "backpack*",
					"rucksack*", "sleeping bag*", "headlamp*", "headphone*", "earbuds", "fleece*", "sock*",
					"poles", "stove*", "camera*", "laptop*", "charger*", "rain shell", "rain jacket",
					"hoodie*", "sweater*", "shirt*", "jeans", "trousers", "pants", "gloves",
					"helmet*", "lamp*", "torch", "flashlight", "bottle*", "hiking", "camping", "skiing",
					"jacke*", "schuh*", "wanderschuh*", "zelt*", "schlafsack*", "regenjacke*", "fleecejacke*",
					"hose", "socken", "stirnlampe", "kopfhörer", "veste*", "chaussure*", "sac à dos",
					"sac de couchage", "tente*", "lampe*", "bâtons", "pantalon", "chaussettes", "chaqueta*",
					"botas", "zapatillas", "mochila*", "saco de dormir", "tienda de campaña",
					"tiendas de campaña", "bastones", "linterna", "calcetines",
				},
			},
			{
				Name:        Other,
				Description: "anything else: off-topic questions, the company, stores, payment options, unclear messages",
				Complexity:  Standard,
				// "Do you have a store in Munich?" is about the company,
				// not a product.
				Absorbs: []string{ProductQuestion},
				Keywords: []string{
					"weather", "wetter", "météo", "quel temps", "clima", "going to rain", "rain tomorrow", "poem",
					"poème", "poema", "haiku", "song", "joke", "witz", "blague", "chiste", "homework", "devoirs",
					"hausaufgaben", "deberes", "mathe", "math", "maths", "capital of", "hauptstadt", "capitale",
					"hiring", "job", "jobs", "career*", "vacanc*", "work for you", "opening hours",
					"open hours", "öffnungszeiten", "horaires", "horario", "physical store", "a store in",
					"a shop in", "stores in", "paypal", "klarna", "pay with", "bitcoin", "football", "soccer",
					"game last night", "the match", "partido", "meaning of life", "sinn des lebens",
					"sens de la vie", "what time", "what's the time", "qué hora", "quelle heure",
					"wie spät", "ceo", "company based", "your company", "headquarter*", "who owns", "student discount", "military discount", "your address", "letters", "located", "where are you",
				},
			},
			{
				Name:        SmallTalk,
				Description: "greetings, thanks, goodbyes and chit-chat with no request",
				Complexity:  Simple,
				Background:  true,
				Keywords: []string{
					"hi", "hello", "hey", "hiya", "howdy", "yo", "thanks", "thank", "thank you", "thank u", "thanx",
					"thx", "ty", "cheers", "bye", "goodbye", "good bye", "see you", "see ya", "good morning",
					"good afternoon", "good evening", "good night", "morning", "evening", "how are you",
					"how's it going", "have a nice day", "have a good day", "nice day", "great", "perfect",
					"awesome", "cool", "excellent", "helpful", "nice to meet you", "are you a bot",
					"are you a robot", "are you human", "are you real", "bot", "robot", "that's all",
					"that is all", "ok", "okay", "alright", "appreciate it", "you're the best",
					// German
					"hallo", "danke", "dankeschön", "vielen dank", "guten tag", "guten morgen", "guten abend",
					"tschüss", "tschüs", "servus", "moin", "grüß gott", "das war's", "das wars",
					"auf wiedersehen", "bis bald",
					// French
					"bonjour", "bonsoir", "merci", "salut", "coucou", "au revoir", "bonne journée",
					"bonne soirée", "à bientôt", "c'est tout",
					// Spanish
					"hola", "gracias", "buenos días", "buenas tardes", "buenas noches", "buenas", "adiós",
					"hasta luego", "chao", "eso es todo",
				},
			},
		},
		KnownWords: slices.Clone(knownWords),
		Neutral: []string{
			// French "je n'arrive pas à …" (I cannot …) is no delivery.
			"n'arrive pas", "n'arrive plus",
		},
		ComplexCues: []string{
			"difference between", "differences", "compare*", "comparison", "versus", "vs",
			"better than", "which is better", "which one is better", "pros and cons", "vergleich*",
			"unterschied*", "différence entre", "comparer", "diferencia entre", "comparar",
		},
	}
}

// knownWords are frequent words of the four languages that are one edit
// away from a keyword but no typo of it ("whether" is not "weather",
// "staff" not "stuff", German "oder" (or) not "order").
var knownWords = []string{
	// English
	"whether", "staff", "write", "while", "tried", "stuck", "model", "case", "point", "hour", "week",
	"shows", "showed", "updated", "experience", "experienced", "writing", "older", "sending", "spending",
	"trading", "other", "there", "their", "these", "those", "where", "were", "when", "what", "then",
	"than", "them", "they", "this", "that", "with", "have", "from", "your", "yours", "just", "like",
	"some", "time", "times", "today", "about", "after", "again", "also", "already", "always", "because",
	"before", "being", "below", "better", "between", "both", "came", "come", "could", "days", "does",
	"done", "down", "each", "even", "ever", "every", "first", "found", "free", "from", "gave", "give",
	"going", "gone", "good", "half", "hand", "hard", "here", "home", "into", "items", "keep", "kind",
	"know", "last", "left", "less", "life", "line", "list", "little", "long", "look", "made", "make",
	"many", "maybe", "mean", "might", "more", "most", "much", "must", "name", "need", "never", "next",
	"nice", "none", "note", "number", "once", "only", "open", "over", "part", "place", "please",
	"plus", "pretty", "quite", "rather", "read", "real", "really", "right", "said", "same", "says",
	"second", "seen", "send", "sent", "should", "show", "side", "since", "site", "size", "small",
	"some", "soon", "still", "such", "sure", "take", "tell", "than", "thank", "thing", "things",
	"think", "three", "told", "took", "true", "trying", "turn", "under", "until", "upon", "used",
	"very", "wait", "want", "wanted", "water", "well", "went", "which", "white", "whole", "will",
	"wish", "work", "worked", "would", "wrote", "year", "years", "house", "hours", "store", "stores",
	"stock", "stuff", "price", "prices", "large", "larger", "change", "changed", "credit", "track",
	"perfect", "trial", "trail", "tired", "waiting", "weather", "heard", "hear", "here", "later",
	"letter", "better", "bitter", "matter", "master", "parent", "person", "people", "phone", "photo",
	"place", "plane", "plant", "print", "prior", "prove", "ready", "reason", "record", "return",
	// German
	"oder", "habe", "haben", "hatte", "nicht", "nichts", "noch", "schon", "auch", "aber", "weil",
	"wenn", "dann", "denn", "doch", "mein", "meine", "meinen", "meiner", "dein", "sein", "seine",
	"ihre", "ihren", "unser", "welche", "welchem", "welchen", "welcher", "andere", "anderen", "anderer",
	"lange", "länger", "gerade", "immer", "wieder", "heute", "morgen", "gestern", "kann", "könnt",
	"können", "konnte", "möchte", "würde", "wurde", "wurden", "werden", "bitte", "danke", "gibt",
	"einen", "einem", "einer", "eine", "diese", "dieser", "dieses", "leider", "schauen", "sagen",
	"machen", "gehen", "kommen", "kommt", "ganz", "viel", "mehr", "sehr", "alle", "alles", "etwas",
	// French
	"avec", "pour", "dans", "mais", "plus", "sans", "sous", "votre", "notre", "leur", "cette", "comme",
	"quand", "depuis", "encore", "toujours", "jamais", "personne", "personnes", "grande", "grand",
	"changer", "faire", "avoir", "suis", "sont", "peux", "pouvez", "voudrais", "merci", "était",
	"leger", "léger", "case", "poste",
	// Spanish
	"cuando", "cuanto", "donde", "porque", "pero", "para", "como", "tiene", "tienen", "tengo", "saber",
	"sobre", "desde", "hasta", "ahora", "mucho", "muy", "todo", "todos", "otra", "otro", "personas",
	"persona", "personen", "presentar", "prevista", "previsto", "perfecto", "credito", "crédito", "mate", "poner",
	"caminar", "cambiar",
}
