package mcp

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/feedbackd/feedbackd/sessions"
)

// The JSON Schemas of the tools' inputs and outputs. Limits come from the
// sessions service so that what a client is told is what the server
// enforces. No "format" keywords: some clients compile schemas with
// validators that reject formats they do not know.

type schema = map[string]any

func mustSchema(s schema) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("tool schema: %v", err))
	}
	return b
}

func sessionIDProperty() schema {
	return schema{
		"type":        "string",
		"description": "The sessionId returned by interactive_feedback (a lowercase UUID).",
		"minLength":   36,
		"maxLength":   36,
	}
}

func waitSecondsProperty(def time.Duration) schema {
	return schema{
		"type":    "integer",
		"minimum": 0,
		"maximum": maxWaitSeconds,
		"default": int(def / time.Second),
		"description": fmt.Sprintf("How long this call waits for the answer, in seconds; default %d, 0 returns at once. "+
			"Keep it below your client's tool-call timeout (often 60 s); call get_feedback_result to wait longer.", int(def/time.Second)),
	}
}

// fieldsDescription teaches an agent the form language: the subset of
// JSON Schema that MCP elicitation allows, with an example asking for a
// date.
const fieldsDescription = "A form for typed answers, written as an MCP elicitation requestedSchema: " +
	`{"type":"object","properties":{"<name>":{…}},"required":["<name>",…]}, ` +
	"at most 20 fields shown in the order written; names are letters, digits, '_' and '-'. Each field is one of: " +
	`a string ("type":"string", with minLength, maxLength, and "format" email, uri, date (YYYY-MM-DD) or date-time (RFC 3339)); ` +
	`a number ("type":"number" or "integer", with minimum, maximum); a yes/no ("type":"boolean"); ` +
	`a single choice ("type":"string" with "enum":[…], or "oneOf":[{"const":"v","title":"Label"},…]); ` +
	`a multiple choice ("type":"array" with "items":{"type":"string","enum":[…]} or "items":{"anyOf":[{"const","title"},…]}, and minItems, maxItems). ` +
	"Every field may have title, description and default. Not together with predefinedOptions (offer choices as an enum field). " +
	"The answer comes back as feedback.values, keyed by field name, and readably in combinedFeedback. " +
	`Example, asking for a date and a number: {"type":"object","properties":{"day":{"type":"string","format":"date","title":"Release day"},` +
	`"copies":{"type":"integer","minimum":1,"maximum":10,"title":"How many?"},"notify":{"type":"boolean","title":"Tell the team?","default":true}},"required":["day"]}`

func imageInputSchema(l sessions.Limits) schema {
	n, size := orDefault(l.MaxImages, sessions.DefaultMaxImages), l.MaxImageBytes
	if size <= 0 {
		size = sessions.DefaultMaxImageBytes
	}
	return schema{
		"type":     "array",
		"maxItems": n,
		"items": schema{
			"type": "object",
			"properties": schema{
				"data":     schema{"type": "string", "minLength": 1, "description": "The image's bytes in base64."},
				"mimeType": schema{"type": "string", "enum": []string{sessions.MimePNG, sessions.MimeJPEG, sessions.MimeWebP, sessions.MimeGIF}},
				"name":     schema{"type": "string", "description": "A file name to show; optional."},
			},
			"required": []string{"data"},
		},
		"description": fmt.Sprintf("Images shown with the question, such as a screenshot, in the shape of MCP image content: "+
			"PNG, JPEG, WebP or GIF (the type is read from the bytes), at most %d of at most %s each.", n, sizeText(int(size))),
	}
}

func interactiveFeedbackInput(l sessions.Limits, wait time.Duration) json.RawMessage {
	return mustSchema(schema{
		"type": "object",
		"properties": schema{
			"message": schema{
				"type":        "string",
				"minLength":   1,
				"maxLength":   l.MaxMessage,
				"description": "The question or request for the person. Markdown is rendered on the feedback page.",
			},
			"title": schema{
				"type":        "string",
				"maxLength":   orDefault(l.MaxTitle, sessions.DefaultMaxTitle),
				"description": "A short heading, one line, shown above the question, in lists and in notifications.",
			},
			"predefinedOptions": schema{
				"type":        "array",
				"items":       schema{"type": "string", "minLength": 1, "maxLength": l.MaxOption},
				"maxItems":    l.MaxOptions,
				"uniqueItems": true,
				"description": "Choices the person can pick from (several may be selected unless multiSelect is false). They can always add free text.",
			},
			"multiSelect": schema{
				"type":        "boolean",
				"default":     true,
				"description": "With predefinedOptions: true lets the person pick several; false makes them a single choice (radio buttons), and the answer holds at most one option.",
			},
			"fields": schema{
				"type":        "object",
				"description": fieldsDescription,
				"properties": schema{
					"type":       schema{"const": "object"},
					"properties": schema{"type": "object"},
					"required":   schema{"type": "array", "items": schema{"type": "string"}},
				},
				"required": []string{"type", "properties"},
			},
			"images": imageInputSchema(l),
			"timeout": schema{
				"type":        "integer",
				"minimum":     int(l.MinTimeout / time.Second),
				"maximum":     int(l.MaxTimeout / time.Second),
				"default":     int(l.DefaultTimeout / time.Second),
				"description": "Seconds until the session expires and can no longer be answered.",
			},
			"metadata": schema{
				"type":        "object",
				"description": fmt.Sprintf("Any JSON object (at most %d bytes) kept with the session and returned with it.", l.MaxMetadata),
			},
			"notify": schema{
				"type":    "boolean",
				"default": true,
				"description": "Whether the person's notification channels (Telegram, Slack, ntfy, Web Push, webhooks) hear of the question; " +
					"false when the person is watching this chat anyway.",
			},
			"waitSeconds": waitSecondsProperty(wait),
		},
		"required": []string{"message"},
	})
}

func requestApprovalInput(l sessions.Limits) json.RawMessage {
	return mustSchema(schema{
		"type": "object",
		"properties": schema{
			"tool_name": schema{
				"type":        "string",
				"minLength":   1,
				"description": "The tool the agent wants to call; shown to the person as what is to be approved.",
			},
			"input": schema{
				"type":        "object",
				"description": fmt.Sprintf("The tool call's input, shown to the person (inputs over %d KiB are shown in part) and returned unchanged as updatedInput when approved.", orDefault(l.MaxDetails, sessions.DefaultMaxDetails)>>10),
			},
			"tool_use_id": schema{
				"type":        "string",
				"description": "The id of the tool call, kept in the session's metadata.",
			},
			"timeout": schema{
				"type":        "integer",
				"minimum":     int(l.MinTimeout / time.Second),
				"maximum":     int(l.MaxTimeout / time.Second),
				"default":     int(l.DefaultTimeout / time.Second),
				"description": "Seconds the person has to answer; the call waits that long at most, and no answer is a deny.",
			},
		},
		"required": []string{"tool_name", "input"},
	})
}

func getFeedbackResultInput(wait time.Duration) json.RawMessage {
	return mustSchema(schema{
		"type": "object",
		"properties": schema{
			"sessionId":   sessionIDProperty(),
			"waitSeconds": waitSecondsProperty(wait),
		},
		"required": []string{"sessionId"},
	})
}

var checkFeedbackStatusInput = mustSchema(schema{
	"type":       "object",
	"properties": schema{"sessionId": sessionIDProperty()},
	"required":   []string{"sessionId"},
})

func imageRefSchema() schema {
	return schema{
		"type": "object",
		"properties": schema{
			"id":       schema{"type": "string"},
			"name":     schema{"type": "string"},
			"mimeType": schema{"type": "string"},
			"size":     schema{"type": "integer", "description": "Bytes."},
			"sha256":   schema{"type": "string"},
			"width":    schema{"type": "integer"},
			"height":   schema{"type": "integer"},
			"url":      schema{"type": "string", "description": "Where the owner reads the bytes, with the same credentials as the API."},
		},
		"required": []string{"id", "name", "mimeType", "size", "sha256", "url"},
	}
}

func questionSchema() schema {
	return schema{
		"type":        "object",
		"description": "What the session asks, as it was created.",
		"properties": schema{
			"kind":              schema{"type": "string", "enum": []sessions.Kind{sessions.KindQuestion, sessions.KindApproval}},
			"title":             schema{"type": "string"},
			"message":           schema{"type": "string"},
			"predefinedOptions": schema{"type": "array", "items": schema{"type": "string"}},
			"multiSelect":       schema{"type": "boolean"},
			"fields":            schema{"type": "object", "description": "The form, an elicitation requestedSchema."},
			"action":            schema{"type": "string", "description": "What an approval is about."},
			"details":           schema{"description": "An approval's details, any JSON."},
			"images":            schema{"type": "array", "items": imageRefSchema()},
			"metadata":          schema{"type": "object", "description": "The metadata given at create."},
		},
		"required": []string{"kind"},
	}
}

func statusProperties() schema {
	return schema{
		"sessionId": schema{"type": "string"},
		"status": schema{
			"type":        "string",
			"enum":        []sessions.Status{sessions.StatusPending, sessions.StatusCompleted, sessions.StatusExpired, sessions.StatusCancelled},
			"description": "pending until the person answers (completed), the deadline passes (expired) or the owner cancels (cancelled).",
		},
		"feedbackUrl": schema{"type": "string", "description": "The page where the person answers."},
		"createdAt":   schema{"type": "string", "description": "RFC 3339 time."},
		"expiresAt":   schema{"type": "string", "description": "RFC 3339 time after which no answer is accepted."},
		"submittedAt": schema{"type": "string", "description": "RFC 3339 time of the answer, once completed."},
		"cancelReason": schema{"type": "string", "description": "Why a cancelled session was cancelled, when that was recorded: " +
			"\"declined by the person\" when the person declined the question in the client."},
		"question": questionSchema(),
	}
}

var statusRequired = []string{"sessionId", "status", "feedbackUrl", "createdAt", "expiresAt", "question"}

// statusSchema is the outputSchema of check_feedback_status.
var statusSchema = mustSchema(schema{
	"type":       "object",
	"properties": statusProperties(),
	"required":   statusRequired,
})

// resultSchema is the outputSchema of interactive_feedback and
// get_feedback_result.
var resultSchema = func() json.RawMessage {
	props := statusProperties()
	props["feedback"] = schema{
		"type":        "object",
		"description": "The answer, present once status is completed.",
		"properties": schema{
			"selectedOptions": schema{"type": "array", "items": schema{"type": "string"}},
			"freeText":        schema{"type": "string"},
			"combinedFeedback": schema{"type": "string", "description": "The whole answer as text: the selected options one per line, " +
				"the form's values as \"Label: value\" lines, the free text, or Approved./Denied: reason; and [n images attached]."},
			"values":   schema{"type": "object", "description": "The form's answers, keyed by field name."},
			"decision": schema{"type": "string", "enum": []sessions.Decision{sessions.DecisionApprove, sessions.DecisionDeny}},
			"reason":   schema{"type": "string"},
			"images": schema{"type": "array", "items": imageRefSchema(),
				"description": "The person's images; they also follow the text as image content."},
		},
		"required": []string{"combinedFeedback"},
	}
	props["metadata"] = schema{"type": "object", "description": "Metadata sent with the answer, if any."}
	props["instruction"] = schema{"type": "string", "description": "What to do next while the session is still pending."}
	return mustSchema(schema{"type": "object", "properties": props, "required": statusRequired})
}()
