package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status int

// The outcomes of a check.
const (
	// Pass means the server did what the check expects.
	Pass Status = iota + 1
	// Fail means it did not; Result.Reason says what was sent and what
	// came back.
	Fail
	// Skip means the check did not run: the feature is not advertised in
	// /ServiceProviderConfig, or the check belongs to another profile.
	Skip
)

// String returns "PASS", "FAIL" or "SKIP".
func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Profile names accepted in Config.Profile.
const (
	ProfileGeneric = "generic"
	ProfileOkta    = "okta"
	ProfileEntra   = "entra"
	ProfileGoogle  = "google"
)

// DefaultPrefix starts the userName and displayName of everything the
// suite creates when Config.Prefix is empty; a random suffix follows it.
const DefaultPrefix = "scimbridge-conformance-"

// Config says where the suite runs.
type Config struct {
	// URL is the SCIM base URL, e.g.
	// http://127.0.0.1:8080/scim/v2/default/default.
	URL string
	// Token is the bearer token. It is sent only in the Authorization
	// header and never written to Out.
	Token string
	// Profile is "generic" (the default), "okta", "entra" or "google": which
	// IdP's request shapes the profile checks send. Checks of the other
	// profiles are skipped.
	Profile string
	// Client sends the requests; nil means a client with a 30-second
	// timeout. It is ignored when Handler is set.
	Client *http.Client
	// Handler, if set, serves every request in-process (through an
	// httptest.ResponseRecorder) instead of the network; URL then only
	// supplies the path prefix (and the host the handler sees).
	Handler http.Handler
	// Out receives one line per check and the summary line; nil discards
	// them.
	Out io.Writer
	// Prefix starts the userName and displayName of every user and group
	// the suite creates, so that they never collide with existing data.
	// Empty means DefaultPrefix plus a random suffix.
	Prefix string
}

// Result is the outcome of one check.
type Result struct {
	Name   string // area/check, e.g. "users/create"
	Status Status
	Reason string // why it failed or was skipped; empty when it passed
}

// Summary is the outcome of a run: every result in order and the counts.
type Summary struct {
	Results []Result
	Passed  int
	Failed  int
	Skipped int
}

func (s *Summary) add(r Result) {
	s.Results = append(s.Results, r)
	switch r.Status {
	case Pass:
		s.Passed++
	case Fail:
		s.Failed++
	case Skip:
		s.Skipped++
	}
}

// Line returns the summary line that Run writes last: "N passed, M
// failed", followed by ", K skipped" when K > 0. CI tooling parses it.
func (s Summary) Line() string {
	line := fmt.Sprintf("%d passed, %d failed", s.Passed, s.Failed)
	if s.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	return line
}

// checkTimeout bounds one check, whatever its requests do.
const checkTimeout = 2 * time.Minute

// Run runs every check against the server cfg names and writes one line
// per check to cfg.Out ("PASS  name", "FAIL  name: reason", "SKIP  name:
// reason"), then the line "N passed, M failed" (with ", K skipped" when K >
// 0). The last check, "cleanup", deletes every user and group the suite
// created, and runs even when checks fail or ctx is cancelled.
//
// Run returns an error only when the suite could not run at all: the
// configuration is invalid, /ServiceProviderConfig cannot be reached, or
// the server refuses the token. A cancelled ctx stops the run after the
// current check; Run then returns the results so far and ctx's error.
func Run(ctx context.Context, cfg Config) (sum Summary, err error) {
	s, err := newSuite(cfg)
	if err != nil {
		return Summary{}, err
	}
	if err := s.discover(ctx); err != nil {
		return Summary{}, errors.New(s.scrub(err.Error()))
	}
	defer func() {
		s.report(&sum, s.cleanup(ctx))
		fmt.Fprintln(s.out, sum.Line())
	}()
	for _, c := range allChecks() {
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
		s.report(&sum, s.runCheck(ctx, c))
	}
	return sum, nil
}

// report records r and writes its line.
func (s *suite) report(sum *Summary, r Result) {
	r.Reason = s.scrub(oneLine(r.Reason))
	sum.add(r)
	if r.Reason == "" {
		fmt.Fprintf(s.out, "%s  %s\n", r.Status, r.Name)
		return
	}
	fmt.Fprintf(s.out, "%s  %s: %s\n", r.Status, r.Name, r.Reason)
}

// runCheck runs one check: it skips checks of other profiles, bounds the
// check in time, turns a panic (a response shape the check did not guard
// against) into a failure, and reports a check cut short by the run's
// cancellation as skipped rather than failed.
func (s *suite) runCheck(ctx context.Context, c check) (res Result) {
	res.Name = c.name
	if c.profile != "" && c.profile != s.profile {
		res.Status, res.Reason = Skip, fmt.Sprintf("%s profile only (this run: %s)", c.profile, s.profile)
		return res
	}
	defer func() {
		if v := recover(); v != nil {
			res.Status, res.Reason = Fail, fmt.Sprintf("the check panicked on an unexpected response: %v", v)
		}
	}()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	err := c.run(ctx, s)
	var skip *skipError
	switch {
	case err != nil && parent.Err() != nil:
		res.Status, res.Reason = Skip, "the run was cancelled"
	case err == nil:
		res.Status = Pass
	case errors.As(err, &skip):
		res.Status, res.Reason = Skip, skip.reason
	default:
		res.Status, res.Reason = Fail, err.Error()
	}
	return res
}

// check is one named conformance check. profile, when set, restricts it
// to that profile.
type check struct {
	name    string
	profile string
	run     func(ctx context.Context, s *suite) error
}

// allChecks lists every check in the order they run and are reported.
func allChecks() []check {
	var all []check
	for _, area := range [][]check{
		discoveryChecks,
		authChecks,
		userChecks,
		filterChecks,
		pageChecks,
		sortChecks,
		projectionChecks,
		patchChecks,
		groupChecks,
		etagChecks,
		errorChecks,
		robustnessChecks,
		bulkChecks,
		entraChecks,
		oktaChecks,
		googleChecks,
	} {
		all = append(all, area...)
	}
	return all
}

// skipError is what a check returns when it does not apply.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

func skipf(format string, args ...any) error {
	return &skipError{reason: fmt.Sprintf(format, args...)}
}

func failf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
