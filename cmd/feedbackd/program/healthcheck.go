package program

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runHealthcheck is `feedbackd healthcheck URL`: container images without a
// shell or curl use it as their health probe.
func runHealthcheck(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: feedbackd healthcheck http://127.0.0.1:8787/ready")
	}
	client := &http.Client{Timeout: 3 * time.Second}
	res, err := client.Get(args[0])
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s: %s", res.Status, body)
	}
	fmt.Fprintf(stdout, "%s\n", body)
	return nil
}
