package degrade

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// stopWords are frequent short words of each language, and a few words of
// customer service ("order", "bestellung", "pedido"). A word in several
// lists counts for each, divided among them.
var stopWords = map[string]string{
	"en": "the and is are was were my your you i it its what where when how why with have has had not this that can " +
		"could would do does did please order orders thanks thank hello hi want there of to for from be been will yet " +
		"still me we our an any still haven't hasn't isn't can't don't doesn't won't which who arrived delivery package refund",
	"de": "der die das und ist nicht ich mein meine meiner meinen wo wann wie warum mit haben hat habe noch bitte danke " +
		"hallo bestellung ein eine einen einem den dem des sie es auf für von zu kann können wurde sind was mir mich schon " +
		"auch aber oder guten tag immer kein keine paket lieferung rücksendung angekommen bekommen",
	"fr": "le la les et est je mon ma mes où quand comment pourquoi avec pas ne bonjour merci commande un une des du au aux " +
		"vous votre vos il elle nous ce cette qui que quoi pour sur dans suis ai été encore toujours plaît colis " +
		"livraison reçu remboursement c'est j'ai n'ai",
	"es": "el la los las y es está mi mis dónde donde cuándo cuando cómo como por qué que con no hola gracias pedido un una " +
		"unos del al su sus usted yo tengo todavía aún para pero muy favor hay ha han llegado sido envío paquete " +
		"reembolso recibido estoy",
	"it": "il lo gli le e è mio mia miei dove quando come perché con non ciao grazie ordine un una uno del della dei delle " +
		"al alla per che sono ho ha ancora buongiorno salve vorrei mi questo questa pacco spedizione arrivato " +
		"rimborso ricevuto ordinato",
	"nl": "de het een en is niet ik mijn waar wanneer hoe waarom met hebben heb heeft nog alstublieft bedankt dank hallo " +
		"bestelling van voor op te dat die wat zijn wordt geen u uw jullie pakket graag kunt kan ontvangen " +
		"bezorgd terugbetaling waar",
	"pt": "o a os as e é está meu minha meus onde quando como por porque com não olá obrigado obrigada pedido um uma do da " +
		"dos das no na em ao você eu tenho ainda já para mas muito encomenda chegou foi seu sua recebi reembolso " +
		"entrega",
}

// hintRunes are letters of one language only among the seven.
var hintRunes = map[rune]string{
	'ß': "de", 'ä': "de", 'ö': "de", 'ü': "de",
	'ñ': "es", '¿': "es", '¡': "es",
	'ã': "pt", 'õ': "pt",
	'ì': "it", 'ò': "it",
	'ë': "nl", 'ĳ': "nl",
}

// langWeights maps a stop word to its weight per language index.
var langWeights = func() map[string][]langWeight {
	idx := map[string]int{}
	for i, l := range Languages {
		idx[l] = i
	}
	sets := map[string][]int{}
	for _, l := range Languages {
		seen := map[string]bool{}
		for _, w := range strings.Fields(stopWords[l]) {
			if !seen[w] {
				seen[w] = true
				sets[w] = append(sets[w], idx[l])
			}
		}
	}
	m := make(map[string][]langWeight, len(sets))
	for w, ls := range sets {
		for _, li := range ls {
			m[w] = append(m[w], langWeight{lang: li, w: 1 / float64(len(ls))})
		}
	}
	return m
}()

type langWeight struct {
	lang int
	w    float64
}

// MinLangScore is the evidence DetectLang needs to overrule the default:
// about two words that only the language has.
const MinLangScore = 1.5

// maxLangBytes is how much of a message DetectLang reads.
const maxLangBytes = 2048

// DetectLang guesses the language of a user's message among Languages by
// its stop words (and letters only one of them has), for the friendly
// message and the rules engine. When the evidence is thin (fewer than
// MinLangScore points, or a tie), it returns fallback: the tenant's
// configured language as a tag's primary subtag ("de-AT" → "de"), or "en"
// when fallback is empty. It reads at most the first 2 KiB and allocates
// nothing for ASCII and Latin text.
func DetectLang(message, fallback string) string {
	def := primaryTag(fallback)
	if len(message) > maxLangBytes {
		message = message[:maxLangBytes]
	}
	var score [7]float64
	var word [32]byte
	n := 0
	flush := func() {
		if n > 0 && n <= len(word) {
			for _, lw := range langWeights[string(word[:n])] { // no allocation: map index by converted bytes
				score[lw.lang] += lw.w
			}
		}
		n = 0
	}
	for i := 0; i < len(message); {
		r, size := rune(message[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(message[i:])
		}
		i += size
		r = unicode.ToLower(r)
		if l, ok := hintRunes[r]; ok {
			score[langIndex(l)] += 0.5
		}
		if unicode.IsLetter(r) || r == '\'' || r == '’' {
			if r == '’' {
				r = '\''
			}
			if n+utf8.RuneLen(r) <= len(word) {
				n += utf8.EncodeRune(word[n:], r)
			} else {
				n = len(word) + 1 // too long for a stop word
			}
			continue
		}
		flush()
	}
	flush()
	best, second := -1, -1
	for i := range score {
		switch {
		case best < 0 || score[i] > score[best]:
			best, second = i, best
		case second < 0 || score[i] > score[second]:
			second = i
		}
	}
	if score[best] < MinLangScore || score[best] == score[second] {
		return def
	}
	return Languages[best]
}

func langIndex(l string) int {
	for i, x := range Languages {
		if x == l {
			return i
		}
	}
	return 0
}

// primaryTag returns a language tag's primary subtag in lower case, or
// "en" when it has none.
func primaryTag(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	tag = strings.ToLower(tag)
	if !validLang(tag) {
		return "en"
	}
	return tag
}
