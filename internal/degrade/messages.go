package degrade

import "github.com/floodgate-dev/floodgate/internal/handoff"

// Languages are the languages with built-in texts and stop words.
var Languages = []string{"en", "de", "fr", "es", "it", "nl", "pt"}

// Apologies are the built-in apology (preset apology): the message of a
// run that no other rung could answer.
var Apologies = map[string]string{
	"en": "I'm sorry, I can't help with that right now. Please try again in a few minutes, or contact our support team.",
	"de": "Es tut mir leid, ich kann Ihnen gerade nicht weiterhelfen. Bitte versuchen Sie es in ein paar Minuten noch einmal oder wenden Sie sich an unser Support-Team.",
	"fr": "Désolé, je ne peux pas vous aider pour le moment. Veuillez réessayer dans quelques minutes ou contacter notre service client.",
	"es": "Lo siento, ahora mismo no puedo ayudarle. Vuelva a intentarlo en unos minutos o póngase en contacto con nuestro equipo de soporte.",
	"it": "Mi dispiace, al momento non posso aiutarla. Riprovi tra qualche minuto o contatti il nostro servizio clienti.",
	"nl": "Sorry, ik kan u op dit moment niet helpen. Probeer het over een paar minuten opnieuw of neem contact op met onze klantenservice.",
	"pt": "Lamento, neste momento não consigo ajudar. Tente novamente dentro de alguns minutos ou contacte a nossa equipa de apoio.",
}

// Refusals are the built-in refusal (preset refusal): the message of a
// request the prompt filter blocked. It neither accuses the user nor
// says what was detected.
var Refusals = map[string]string{
	"en": "Sorry, I can't help with that request. Could you rephrase what you need?",
	"de": "Entschuldigung, bei dieser Anfrage kann ich nicht helfen. Können Sie Ihr Anliegen anders formulieren?",
	"fr": "Désolé, je ne peux pas donner suite à cette demande. Pourriez-vous reformuler votre question ?",
	"es": "Lo siento, no puedo ayudar con esa solicitud. ¿Podría reformular lo que necesita?",
	"it": "Mi dispiace, non posso aiutare con questa richiesta. Può riformulare ciò di cui ha bisogno?",
	"nl": "Sorry, met dit verzoek kan ik niet helpen. Kunt u uw vraag anders formuleren?",
	"pt": "Lamento, não posso ajudar com esse pedido. Pode reformular o que precisa?",
}

// HandoffAcks are acknowledgements of a handed-off session in the
// languages internal/handoff has none for (it has en and de): pass them
// as handoff.Config.Acks so that a ticket filed in French acknowledges in
// French. "{ticket}" becomes the ticket's id.
var HandoffAcks = map[string]handoff.Ack{
	"fr": {
		Open:    "Merci, votre message a été transmis à notre service client (ticket {ticket}). Un membre de l'équipe vous répondra ici dès que possible.",
		Claimed: "Merci, un membre de notre service client traite votre demande (ticket {ticket}) et vous répondra ici sous peu.",
	},
	"es": {
		Open:    "Gracias, su mensaje se ha enviado a nuestro equipo de soporte (ticket {ticket}). Un miembro del equipo le responderá aquí lo antes posible.",
		Claimed: "Gracias, un miembro de nuestro equipo de soporte está atendiendo su solicitud (ticket {ticket}) y le responderá aquí en breve.",
	},
	"it": {
		Open:    "Grazie, il suo messaggio è stato inoltrato al nostro servizio clienti (ticket {ticket}). Un membro del team le risponderà qui il prima possibile.",
		Claimed: "Grazie, un membro del nostro servizio clienti si sta occupando della sua richiesta (ticket {ticket}) e le risponderà qui a breve.",
	},
	"nl": {
		Open:    "Bedankt, uw bericht is doorgestuurd naar onze klantenservice (ticket {ticket}). Een medewerker antwoordt u hier zo snel mogelijk.",
		Claimed: "Bedankt, een medewerker van onze klantenservice behandelt uw vraag (ticket {ticket}) en antwoordt u hier binnenkort.",
	},
	"pt": {
		Open:    "Obrigado, a sua mensagem foi encaminhada para a nossa equipa de apoio (ticket {ticket}). Um membro da equipa responderá aqui o mais rapidamente possível.",
		Claimed: "Obrigado, um membro da nossa equipa de apoio está a tratar do seu pedido (ticket {ticket}) e responderá aqui em breve.",
	},
}

// messageTexts merges a message rung's texts over its preset's.
func messageTexts(r *Rung) map[string]string {
	preset := Apologies
	if r.Preset == PresetRefusal {
		preset = Refusals
	}
	out := make(map[string]string, len(preset)+len(r.Text))
	for k, v := range preset {
		out[k] = v
	}
	for k, v := range r.Text {
		out[k] = v
	}
	if en, ok := r.Text["en"]; ok {
		out[""] = en // the fallback: the operator's English over the preset's
	} else {
		out[""] = preset["en"]
	}
	return out
}
