package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

// restScenario is create → submit → result over REST.
type restScenario struct{ c *client }

func (s *restScenario) newWorker(context.Context, *recorder) (worker, func(), error) {
	return s.iterate, func() {}, nil
}

func (s *restScenario) iterate(ctx context.Context, rec *recorder, n int64) error {
	id, err := s.c.create(ctx, rec, n)
	if err != nil {
		return err
	}
	if err := s.c.submit(ctx, rec, id); err != nil {
		return err
	}
	var res struct {
		Feedback struct {
			CombinedFeedback string `json:"combinedFeedback"`
		} `json:"feedback"`
	}
	if err := rec.time("result", func() error {
		return s.c.call(ctx, "GET", "/api/feedback/"+url.PathEscape(id)+"/result", true, nil, http.StatusOK, &res)
	}); err != nil {
		return err
	}
	if res.Feedback.CombinedFeedback == "" {
		return errors.New("result: empty combinedFeedback")
	}
	return nil
}
