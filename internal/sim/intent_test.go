package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		give          string
		want          intent
		wantSecondary intent
		wantCx        Complexity
	}{
		// order_status
		{"Where is my order?", intentOrderStatus, intentUnknown, Simple},
		{"where's my order 100123", intentOrderStatus, intentUnknown, Simple},
		{"Can you check the status of order #100123?", intentOrderStatus, intentUnknown, Simple},
		{"Order 100123", intentOrderStatus, intentUnknown, Simple},
		{"I have a question about an order", intentOrderStatus, intentUnknown, Simple},
		{"Wo ist meine Bestellung 100123?", intentOrderStatus, intentUnknown, Simple},
		{"Où est ma commande 100123 ?", intentOrderStatus, intentUnknown, Simple},
		{"¿Dónde está mi pedido 100123?", intentOrderStatus, intentUnknown, Simple},
		{"Hi! What's the status of orders 100123 and 100456?", intentOrderStatus, intentUnknown, Simple},
		// shipment_tracking
		{"When will my order 100123 arrive?", intentShipment, intentUnknown, Simple},
		{"Can you track my parcel?", intentShipment, intentUnknown, Simple},
		{"tracking number 1Z999AA10123456784", intentShipment, intentUnknown, Simple},
		{"Has it shipped yet?", intentShipment, intentUnknown, Simple},
		{"The delivery is late", intentShipment, intentUnknown, Simple},
		{"Wann kommt mein Paket an?", intentShipment, intentUnknown, Simple},
		{"Quand arrive mon colis ?", intentShipment, intentUnknown, Simple},
		{"¿Cuándo llega mi paquete?", intentShipment, intentUnknown, Simple},
		// return_refund
		{"I want to return order 100123", intentReturn, intentUnknown, Complex},
		{"How do I get a refund?", intentReturn, intentUnknown, Complex},
		{"My headphones arrived damaged, I want my money back", intentReturn, intentUnknown, Complex},
		{"Ich möchte die Rückgabe von Bestellung 100123", intentReturn, intentUnknown, Complex},
		{"Je veux être remboursé", intentReturn, intentUnknown, Complex},
		{"Quiero devolver mi pedido", intentReturn, intentUnknown, Complex},
		// product_question
		{"Do you have the blue jacket in size M?", intentProduct, intentUnknown, Standard},
		{"Is AB-1234 in stock?", intentProduct, intentUnknown, Standard},
		{"Can you recommend running shoes?", intentProduct, intentUnknown, Standard},
		{"What's the price of the wireless headphones?", intentProduct, intentUnknown, Standard},
		{"Habt ihr diese Jacke auf Lager?", intentProduct, intentUnknown, Standard},
		{"Avez-vous ce produit en stock ?", intentProduct, intentUnknown, Standard},
		{"¿Tienen zapatillas disponibles?", intentProduct, intentUnknown, Standard},
		// small talk
		{"Hello!", intentSmallTalk, intentUnknown, Simple},
		{"thanks a lot", intentSmallTalk, intentUnknown, Simple},
		{"Danke schön", intentSmallTalk, intentUnknown, Simple},
		{"Bonjour", intentSmallTalk, intentUnknown, Simple},
		{"Hola, buenos días", intentSmallTalk, intentUnknown, Simple},
		// mixed intents are complex
		{"Where is my order 100123 and do you have the blue jacket in stock?", intentOrderStatus, intentProduct, Complex},
		{"Track order 100123, and is the AB-1234 available?", intentProduct, intentShipment, Complex},
		// recall
		{"What was the order number I gave you first?", intentRecall, intentUnknown, Simple},
		{"Which order did I ask about?", intentRecall, intentUnknown, Simple},
		{"How much was the refund?", intentRecall, intentUnknown, Simple},
		{"What is my email?", intentRecall, intentUnknown, Simple},
		{"Welche Bestellnummer hatte ich genannt?", intentRecall, intentUnknown, Simple},
		// summarize
		{"Please summarize our conversation", intentSummarize, intentUnknown, Standard},
		{"Give me a summary of the conversation", intentSummarize, intentUnknown, Standard},
		{"Fasse das bitte zusammen: Zusammenfassung", intentSummarize, intentUnknown, Standard},
		// unknown
		{"What is the meaning of life?", intentUnknown, intentUnknown, Complex},
		{"asdf qwer", intentUnknown, intentUnknown, Complex},
		{"", intentUnknown, intentUnknown, Complex},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := classify(tt.give, extractEntities(tt.give))
			assert.Equal(t, tt.want.String(), got.primary.String(), "primary")
			assert.Equal(t, tt.wantSecondary.String(), got.secondary.String(), "secondary")
			assert.Equal(t, tt.wantCx, got.complexity, "complexity")
		})
	}
}

func TestRecallQuestionKind(t *testing.T) {
	tests := []struct {
		give     string
		wantKind entityKind
		wantLast bool
	}{
		{"What was the order number I gave you first?", entOrder, false},
		{"Which order did I mention last?", entOrder, true},
		{"What's my tracking number?", entTracking, false},
		{"What is my email address?", entEmail, false},
		{"what was my phone number again?", entPhone, false},
		{"How much was the refund?", entAmount, false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := classify(tt.give, extractEntities(tt.give))
			assert.Equal(t, intentRecall, got.primary)
			assert.Equal(t, tt.wantKind, got.recallKind)
			assert.Equal(t, tt.wantLast, got.recallLast)
		})
	}
}
