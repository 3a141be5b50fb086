package degrade

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

var (
	llmError503    = llm.Error{Kind: llm.KindUnavailable, Message: "no healthy endpoint for model large"}
	llmErrorServer = llm.Error{Kind: llm.KindServer, Message: "upstream 500"}
)

func TestStatusesAreTheStoresRunStatuses(t *testing.T) {
	assert.Equal(t, store.RunDegraded, StatusDegraded)
	assert.Equal(t, store.RunHandedOff, StatusHandedOff)
}
