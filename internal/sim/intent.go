package sim

import (
	"unicode"
	"unicode/utf8"
)

// intent is what a user turn asks for.
type intent uint8

const (
	intentUnknown intent = iota
	intentOrderStatus
	intentShipment
	intentReturn
	intentProduct
	intentSmallTalk
	intentRecall
	intentSummarize
	numIntents
)

var intentNames = [numIntents]string{
	intentUnknown:     "unknown",
	intentOrderStatus: "order_status",
	intentShipment:    "shipment_tracking",
	intentReturn:      "return_refund",
	intentProduct:     "product_question",
	intentSmallTalk:   "small_talk",
	intentRecall:      "recall",
	intentSummarize:   "summarize",
}

func (i intent) String() string {
	if i < numIntents {
		return intentNames[i]
	}
	return "unknown"
}

// Keyword lists are lower case. A trailing "*" matches any word ending
// ("refund*" matches "refunded"); otherwise a keyword must end at a word
// boundary. Every keyword must start at a word boundary.
var (
	orderStrong = []string{
		"where is my order", "where's my order", "wheres my order", "order status", "status of my order",
		"status of order", "status of the order", "check my order", "check on my order", "check order",
		"what happened to my order", "has my order", "order number",
		"wo ist meine bestellung", "bestellstatus", "status meiner bestellung", "status der bestellung",
		"où est ma commande", "statut de ma commande", "état de ma commande",
		"dónde está mi pedido", "donde esta mi pedido", "estado de mi pedido", "estado del pedido",
	}
	orderWeak = []string{
		"order*", "status", "bestellung*", "commande*", "pedido*", "where is", "wo ist", "où est", "dónde está",
	}
	shipmentStrong = []string{
		"track*", "deliver*", "shipped", "shipping", "shipment*", "parcel*", "package*", "courier", "arriv*",
		"dispatch*", "in transit", "sendung*", "paket*", "liefer*", "versand*", "zustell*", "ankommen",
		"colis", "livraison", "livr*", "expédi*", "envío", "envio", "enviado", "paquete", "seguimiento",
		"entrega*", "llega*",
	}
	returnStrong = []string{
		"return*", "refund*", "money back", "damaged", "broken", "defective", "faulty", "exchange",
		"send it back", "send back", "wrong item", "wrong size",
		"rückgabe", "zurückgeben", "zurücksenden", "zurückschicken", "erstatt*", "geld zurück", "beschädigt",
		"kaputt", "defekt", "umtausch*", "retour*", "rembours*", "endommagé", "cassé", "renvoyer",
		"devolver", "devoluci*", "reembols*", "dañado", "roto",
	}
	productStrong = []string{
		"do you have", "do you sell", "do you carry", "in stock", "out of stock", "price of", "how much is",
		"how much are", "how much does", "how much do", "recommend*", "availab*", "product*", "size*",
		"color*", "colour*", "looking for", "what's the price", "what is the price", "cost of",
		"habt ihr", "haben sie", "auf lager", "vorrätig", "preis*", "kostet", "empfehl*", "verfügbar*", "produkt*",
		"avez-vous", "avez vous", "en stock", "prix", "combien coûte", "combien coute", "recommand*",
		"disponible*", "produit*", "tienen", "tienes", "precio*", "cuánto cuesta", "cuanto cuesta",
		"recomiend*", "producto*",
	}
	// productNouns are things a shop sells: weak evidence of a product question.
	productNouns = []string{
		"shoe*", "sneaker*", "boots", "jacket*", "coat*", "shirt*", "t-shirt*", "hoodie*", "sweater*", "jeans",
		"trousers", "pants", "dress*", "skirt*", "headphone*", "earbuds", "laptop*", "charger*", "cable*",
		"watch*", "backpack*", "bag*", "camera*", "keyboard*", "mouse", "monitor*", "speaker*", "tablet*",
		"phone case*", "lamp*", "mattress*", "sofa*",
	}
	smallTalk = []string{
		"hi", "hello", "hey", "thanks", "thank you", "thx", "good morning", "good afternoon", "good evening",
		"bye", "goodbye", "how are you", "cheers", "hallo", "danke", "guten tag", "guten morgen", "tschüss",
		"bonjour", "merci", "salut", "au revoir", "hola", "gracias", "buenos días", "buenas tardes", "adiós",
	}
	summarizeWords = []string{
		"summarize", "summarise", "summarization", "summarisation", "summary", "summaries", "sum up",
		"zusammenfass*", "résum*", "resumen", "resumir", "resume la conversación",
	}
	// recallCues mark a question about something said earlier.
	recallCues = []string{
		"what was", "what were", "what's my", "what is my", "which order", "which tracking",
		"which product", "which email", "which one did i", "did i give", "i gave you", "i gave",
		"did i mention", "i mentioned", "i told you", "did i tell", "i asked about", "did i ask",
		"do you remember", "remember", "remind me", "how much was", "what did i", "what amount",
		"welche bestellnummer", "was war", "erinnerst du", "wie lautet meine", "welche bestellung",
		"quel était", "quelle était", "quel est mon", "quelle est mon", "te souviens", "rappelle",
		"cuál era", "cual era", "cuál es mi", "cual es mi", "recuerdas",
	}
	// recallLastWords ask for the last, not the first, of several facts.
	recallLastWords = []string{"last", "latest", "most recent", "just", "recent*", "letzte*", "dernier", "dernière", "último", "última"}
	// recallBlockers mean a fresh request even when a cue is present.
	recallBlockers = []string{"status", "where is", "where's", "track", "deliver*", "arriv*", "return it", "in stock"}
)

// recallKinds maps words of a recall question to the entity kind asked for;
// the first kind whose words occur wins.
var recallKinds = []struct {
	kind  entityKind
	words []string
}{
	{entTracking, []string{"tracking", "sendungsnummer", "suivi", "seguimiento"}},
	{entEmail, []string{"email", "e-mail", "mail", "correo", "courriel"}},
	{entPhone, []string{"phone", "telephone", "telefon*", "handy", "téléphone", "teléfono"}},
	{entSKU, []string{"sku", "product code", "item number", "article number", "artikelnummer"}},
	{entAmount, []string{"how much", "refund*", "amount", "total", "price", "cost", "betrag", "montant", "importe", "cuánto", "cuanto", "combien"}},
	{entOrder, []string{"order*", "bestell*", "commande", "pedido"}},
}

// classification is what the sim understood of a user turn.
type classification struct {
	primary    intent
	secondary  intent // a second, different request in the same message, or intentUnknown
	complexity Complexity
	recallKind entityKind // for intentRecall
	recallLast bool       // the question asks for the last, not the first
}

func (c classification) mixed() bool { return c.secondary != intentUnknown }

// classify classifies one user text; ents are its entities.
func classify(text string, ents []entity) classification {
	h := scanKeywords(text)
	if h.any(kwSummarize) {
		return classification{primary: intentSummarize, complexity: Standard}
	}
	if kind, last, ok := recallQuestion(&h, ents); ok {
		return classification{primary: intentRecall, complexity: Simple, recallKind: kind, recallLast: last}
	}
	var score [numIntents]int
	score[intentOrderStatus] = 2*h.count(kwOrderStrong) + h.count(kwOrderWeak)
	score[intentShipment] = 2 * h.count(kwShipment)
	score[intentReturn] = 2 * h.count(kwReturn)
	score[intentProduct] = 2*h.count(kwProduct) + h.count(kwProductNouns)
	for _, e := range ents {
		switch e.kind {
		case entOrder:
			score[intentOrderStatus]++
		case entTracking:
			score[intentShipment] += 2
		case entSKU:
			score[intentProduct] += 2
		}
	}
	// Order status and shipment tracking are one family: a message about
	// both is one question, answered by whichever dominates.
	family, famScore := intentOrderStatus, score[intentOrderStatus]
	if sh := score[intentShipment]; sh >= 2 && sh >= famScore {
		family, famScore = intentShipment, sh
	}
	type cand struct {
		in    intent
		score int
	}
	// Priority order on ties: returns, then orders, then products.
	cands := [3]cand{{intentReturn, score[intentReturn]}, {family, famScore}, {intentProduct, score[intentProduct]}}
	best := -1
	for i, c := range cands {
		if c.score > 0 && (best < 0 || c.score > cands[best].score) {
			best = i
		}
	}
	if best < 0 {
		if h.any(kwSmallTalk) {
			return classification{primary: intentSmallTalk, complexity: Simple}
		}
		return classification{primary: intentUnknown, complexity: Complex}
	}
	cl := classification{primary: cands[best].in}
	for i, c := range cands {
		// A second request needs strong evidence of its own; a return is
		// always about an order, so order words do not make it mixed.
		if i == best || c.score < 2 || (cl.primary == intentReturn && i == 1) {
			continue
		}
		if cl.secondary == intentUnknown || c.score > score[cl.secondary] {
			cl.secondary = c.in
		}
	}
	switch {
	case cl.mixed():
		cl.complexity = Complex
	case cl.primary == intentProduct:
		cl.complexity = Standard
	case cl.primary == intentReturn:
		cl.complexity = Complex
	default:
		cl.complexity = Simple
	}
	return cl
}

// weakOnly reports whether a classification rests on no request at all, so
// that a follow-up such as "it's 100123" inherits the previous turn's intent.
func (c classification) weak() bool {
	return c.primary == intentUnknown || c.primary == intentSmallTalk
}

func recallQuestion(h *kwHits, ents []entity) (entityKind, bool, bool) {
	if !h.any(kwRecallCues) || h.any(kwRecallBlockers) {
		return 0, false, false
	}
	for i, rk := range recallKinds {
		if !h.any(kwRecallKind0 + kwList(i)) {
			continue
		}
		// A question that carries the fact itself is a fresh request.
		if firstOf(ents, rk.kind) != "" {
			return 0, false, false
		}
		return rk.kind, h.any(kwRecallLast), true
	}
	return 0, false, false
}

// anyKeyword reports whether text has a keyword of list l.
func anyKeyword(text string, l kwList) bool {
	h := scanKeywords(text)
	return h.any(l)
}

func boundaryAfter(t string, i int) bool {
	if i >= len(t) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(t[i:])
	return !isWordRune(r)
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isAlnum(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}
