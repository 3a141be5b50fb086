package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// SubjectFeedback is the Q2 subject user feedback on runs is published on,
// for evaluation and business metrics to consume.
const SubjectFeedback = "feedback.runs"

// MaxFeedbackComment caps a feedback comment, in bytes.
const MaxFeedbackComment = 2000

// Feedback is a user's judgement of a conversation or one of its runs:
// thumbs up or down, a score from 1 to 5, or both, and a comment.
type Feedback struct {
	RunID   string `json:"run_id,omitempty"`
	Rating  string `json:"rating,omitempty"` // "up" or "down"
	Score   int    `json:"score,omitempty"`  // 1..5; 0 means none
	Comment string `json:"comment,omitempty"`
}

// FeedbackRecord is what Feedback publishes.
type FeedbackRecord struct {
	Tenant    string `json:"tenant"`
	SessionID string `json:"session_id"`
	Agent     string `json:"agent"`
	UserID    string `json:"user_id,omitempty"`
	Feedback
	At time.Time `json:"at"`
}

// feedbackObserver is the optional capability of an Observer that counts
// feedback (user satisfaction, a business metric).
type feedbackObserver interface {
	Feedback(agent, rating string)
}

// Feedback records a user's feedback on a tenant's session: it is counted
// by the Observer (if it counts feedback) under the agent that owns the
// session, and published on SubjectFeedback when a Publisher is set. It
// returns ErrInvalidRequest (wrapped) for a feedback without rating or
// score, or with values out of range, and store.ErrNotFound (wrapped) for
// an unknown session. RunID is kept as given; it is not checked against
// the session's turns.
func (e *Engine) Feedback(ctx context.Context, tenant, sessionID string, f Feedback) error {
	switch {
	case f.Rating != "" && f.Rating != "up" && f.Rating != "down":
		return fmt.Errorf("%w: rating must be up or down", ErrInvalidRequest)
	case f.Score < 0 || f.Score > 5:
		return fmt.Errorf("%w: score must be between 1 and 5", ErrInvalidRequest)
	case f.Rating == "" && f.Score == 0:
		return fmt.Errorf("%w: feedback needs a rating or a score", ErrInvalidRequest)
	case len(f.Comment) > MaxFeedbackComment || !utf8.ValidString(f.Comment):
		return fmt.Errorf("%w: comment must be UTF-8 of at most %d bytes", ErrInvalidRequest, MaxFeedbackComment)
	}
	sess, err := e.sessions.Load(ctx, tenant, sessionID, 1)
	if err != nil {
		return fmt.Errorf("load session: %w", err)
	}
	if o, ok := e.obs.(feedbackObserver); ok {
		label := f.Rating
		if label == "" {
			label = "score_" + strconv.Itoa(f.Score)
		}
		o.Feedback(sess.Agent, label)
	}
	if e.pub == nil {
		return nil
	}
	rec := FeedbackRecord{Tenant: tenant, SessionID: sessionID, Agent: sess.Agent, UserID: sess.UserID, Feedback: f, At: e.now()}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode feedback: %w", err)
	}
	// No message id: a user may change their mind, and every record counts.
	if err := e.pub.Publish(ctx, SubjectFeedback, "", b, nil); err != nil {
		return fmt.Errorf("publish feedback: %w", err)
	}
	return nil
}
