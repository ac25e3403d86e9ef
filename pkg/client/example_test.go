package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/feedbackd/feedbackd/pkg/client"
)

// The examples run against a real feedbackd that TestMain starts, with
// FEEDBACKD_URL and FEEDBACKD_API_KEY pointing at it. Where a person would
// answer on the feedback page, personAnswers answers through the API.

// personAnswers plays the person: it answers the session as the page would.
func personAnswers(id string, a client.Answer) {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Submit(context.Background(), id, a); err != nil {
		log.Fatal(err)
	}
}

func Example() {
	ctx := context.Background()
	c, err := client.FromEnv() // FEEDBACKD_URL, FEEDBACKD_API_KEY
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(ctx, client.Question{
		Message: "Deploy **v2** to production?",
		Options: []string{"Yes", "No"},
		Timeout: 10 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	// Show created.FeedbackURL to the person: in a chat, an e-mail, a QR code.

	personAnswers(created.SessionID, client.Answer{SelectedOptions: []string{"Yes"}, FreeText: "Watch the error rate."})

	res, err := c.Wait(ctx, created.SessionID)
	switch {
	case errors.Is(err, client.ErrExpired):
		fmt.Println("nobody answered in time")
	case err != nil:
		log.Fatal(err)
	case res.Feedback.Chose("Yes"):
		fmt.Printf("approved: %q\n", res.Feedback.FreeText)
	}
	// Output: approved: "Watch the error rate."
}

func ExampleNew() {
	c, err := client.New(
		client.WithBaseURL("https://feedback.example.com"),
		client.WithAPIKey(os.Getenv("MY_FEEDBACKD_KEY")),
		client.WithLongPoll(25*time.Second), // a proxy in front cuts idle requests at 30 s
	)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.BaseURL())
	// Output: https://feedback.example.com
}

func ExampleFromEnv() {
	// FEEDBACKD_URL (default http://127.0.0.1:8787), and FEEDBACKD_API_KEY
	// or FEEDBACKD_TOKEN. Options given here win over the environment.
	c, err := client.FromEnv(client.WithRetries(2))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.BaseURL() == os.Getenv("FEEDBACKD_URL"))
	// Output: true
}

func ExampleClient_Create() {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(context.Background(), client.Question{
		Title:        "Release 2.4",
		Message:      "Which region goes first?",
		Options:      []string{"eu-west", "us-east"},
		SingleChoice: true,
		Timeout:      30 * time.Minute,
		Metadata:     map[string]string{"ticket": "OPS-1234"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasSuffix(created.FeedbackURL, "/feedback/"+created.SessionID))
	fmt.Println(time.Until(created.ExpiresAt).Round(time.Minute))
	// Output:
	// true
	// 30m0s
}

func ExampleClient_Create_form() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	low, high := 1.0, 10.0
	created, err := c.Create(ctx, client.Question{
		Message: "Schedule the migration",
		Fields: &client.Form{Fields: []client.Field{
			{Name: "day", Type: client.FieldString, Format: client.FormatDate, Title: "Day", Required: true},
			{Name: "replicas", Type: client.FieldInteger, Minimum: &low, Maximum: &high, Title: "Replicas"},
			{Name: "env", Type: client.FieldString, Title: "Environment", Choices: []client.Choice{{Value: "staging"}, {Value: "prod", Title: "Production"}}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	personAnswers(created.SessionID, client.Answer{Values: map[string]any{"day": "2026-12-01", "replicas": 3, "env": "prod"}})
	res, err := c.Wait(ctx, created.SessionID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Feedback.CombinedFeedback)
	// Output:
	// Day: 2026-12-01
	// Replicas: 3
	// Environment: Production (prod)
}

func ExampleClient_Create_approval() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(ctx, client.Question{
		Kind:    client.KindApproval,
		Action:  "Drop table users_old",
		Details: map[string]any{"rows": 1200, "backup": "s3://backups/users_old.sql"},
	})
	if err != nil {
		log.Fatal(err)
	}
	personAnswers(created.SessionID, client.Answer{Decision: client.DecisionDeny, Reason: "keep it until Monday"})
	res, err := c.Wait(ctx, created.SessionID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Feedback.CombinedFeedback)
	// Output: Denied: keep it until Monday
}

func ExampleClient_Status() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(ctx, client.Question{Message: "Still pending?"})
	if err != nil {
		log.Fatal(err)
	}
	st, err := c.Status(ctx, created.SessionID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Status, st.Status.Final())
	// Output: pending false
}

func ExampleClient_Result() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(ctx, client.Question{Message: "Anything to add?"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Result(ctx, created.SessionID); errors.Is(err, client.ErrNoFeedback) {
		fmt.Println("no answer yet")
	}
	personAnswers(created.SessionID, client.Answer{FreeText: "Ship it."})
	res, err := c.Result(ctx, created.SessionID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Feedback.CombinedFeedback)
	// Output:
	// no answer yet
	// Ship it.
}

func ExampleClient_Wait() {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(context.Background(), client.Question{Message: "Ready?", Options: []string{"Yes", "No"}})
	if err != nil {
		log.Fatal(err)
	}
	go personAnswers(created.SessionID, client.Answer{SelectedOptions: []string{"No"}})

	// Wait as long as the session is open, or an hour at most.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	res, err := c.Wait(ctx, created.SessionID)
	switch {
	case errors.Is(err, client.ErrExpired), errors.Is(err, client.ErrCancelled):
		fmt.Println("no answer:", err)
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(res.Feedback.SelectedOptions)
	}
	// Output: [No]
}

func ExampleClient_Cancel() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(ctx, client.Question{Message: "Never mind this one"})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Cancel(ctx, created.SessionID); err != nil {
		log.Fatal(err)
	}
	_, err = c.Wait(ctx, created.SessionID)
	fmt.Println(errors.Is(err, client.ErrCancelled))
	// Output: true
}

func ExampleClient_Submit() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(ctx, client.Question{Message: "Pick one", Options: []string{"A", "B"}})
	if err != nil {
		log.Fatal(err)
	}
	// An app with its own answer screen submits like the feedback page:
	// the session id is the capability, no credentials are sent.
	sub, err := c.Submit(ctx, created.SessionID, client.Answer{SelectedOptions: []string{"B"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sub.Status)
	_, err = c.Submit(ctx, created.SessionID, client.Answer{SelectedOptions: []string{"A"}})
	fmt.Println(errors.Is(err, client.ErrAlreadySubmitted))
	// Output:
	// completed
	// true
}

func ExampleClient_List() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range []string{"first", "second", "third"} {
		if _, err := c.Create(ctx, client.Question{Message: "List example: " + m}); err != nil {
			log.Fatal(err)
		}
	}
	// Newest first, page after page as the loop asks for more.
	n := 0
	for s, err := range c.List(ctx, client.ListOptions{Status: client.StatusPending, PageSize: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s.Status, s.Message)
		if n++; n == 3 {
			break
		}
	}
	// Output:
	// pending List example: third
	// pending List example: second
	// pending List example: first
}

func ExampleClient_Image() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Result(ctx, os.Getenv("SESSION_ID"))
	if err != nil {
		log.Fatal(err)
	}
	// The images the person attached to the answer.
	for _, ref := range res.Feedback.Images {
		img, err := c.Image(ctx, res.SessionID, ref.ID)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(ref.Name, img.Data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func ExampleClient_Subscribe() {
	ctx := context.Background()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	created, err := c.Create(ctx, client.Question{Message: "Go?", Options: []string{"Go", "Stop"}})
	if err != nil {
		log.Fatal(err)
	}
	// The stream ends by itself after the session's last event.
	for ev, err := range c.Subscribe(ctx, created.SessionID) {
		if err != nil {
			log.Fatal(err)
		}
		if ev.Preview != "" {
			fmt.Println(ev.Type, ev.Status, ev.Preview)
		} else {
			fmt.Println(ev.Type, ev.Status)
		}
		if ev.Type == client.EventConnected {
			go personAnswers(created.SessionID, client.Answer{SelectedOptions: []string{"Go"}})
		}
	}
	// Output:
	// connection_established pending
	// session_status_changed completed
	// feedback_submitted completed Go
}

func ExampleClient_Watch() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	var asked string
	for ev, err := range c.Watch(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		if ev.Type == client.EventConnected {
			// Following every session of ours from here on: ask one.
			created, err := c.Create(ctx, client.Question{Message: "Watched question"})
			if err != nil {
				log.Fatal(err)
			}
			asked = created.SessionID
			continue
		}
		// The stream carries every session of ours, including news of
		// others that happened just before it connected.
		if ev.SessionID != asked {
			continue
		}
		switch ev.Type {
		case client.EventCreated:
			fmt.Println(ev.Type, ev.Message)
			go personAnswers(ev.SessionID, client.Answer{FreeText: "seen"})
		default:
			fmt.Println(ev.Type, ev.Status)
		}
		if ev.Type == client.EventSubmitted {
			return // or keep watching
		}
	}
	// Output:
	// session_created Watched question
	// session_status_changed completed
	// feedback_submitted completed
}

func ExampleAPIError() {
	c, err := client.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Create(context.Background(), client.Question{Message: strings.Repeat("?", 1001)})
	var ae *client.APIError
	if errors.As(err, &ae) && errors.Is(err, client.ErrInvalid) {
		fmt.Println(ae.Status, ae.Code, ae.Field)
	}
	// Output: 400 INVALID_REQUEST message
}
