package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ReplayProfiles are the directory profiles a replay sequence may name.
var ReplayProfiles = []string{"generic", "okta", "entra", "google"}

// ReplaySequence is one recorded IdP request sequence: the requests an IdP
// sends for a lifecycle, the responses a SCIM server must give, and the
// state the server must be left in. The file format is described in
// testdata/replay/README.md.
type ReplaySequence struct {
	// Source names the public documents the request shapes come from, and
	// says that the values are invented.
	Source string `json:"source"`
	// Profile is the profile of the directory the sequence is replayed
	// against: one of ReplayProfiles.
	Profile string `json:"profile"`
	// Covers lists the lifecycles the sequence exercises (see README.md).
	Covers []string `json:"covers"`
	// Headers are sent with every request of the sequence (User-Agent,
	// for instance); a step's own headers win.
	Headers map[string]string `json:"headers,omitempty"`
	// Steps are the IdP's requests, in order.
	Steps []ReplayStep `json:"steps"`
	// State are the checks run after the steps: GET requests only.
	State []ReplayStep `json:"state"`

	// File is the path the sequence was read from, for messages.
	File string `json:"-"`
}

// ReplayStep is one request and what its response must be.
type ReplayStep struct {
	// Note says what the IdP is doing and which shape this is.
	Note    string        `json:"note,omitempty"`
	Request ReplayRequest `json:"request"`
	Expect  ReplayExpect  `json:"expect"`
}

// ReplayRequest is one HTTP request, relative to the SCIM base URL.
type ReplayRequest struct {
	Method string `json:"method"`
	// Path starts with "/" and is appended to the base URL as written
	// (after variable substitution): it may carry an encoded query string,
	// to keep an IdP's exact query encoding.
	Path string `json:"path"`
	// Query parameters are encoded (spaces as %20) and appended after any
	// query in Path, in name order.
	Query   map[string]string `json:"query,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Body is sent as is, after variable substitution inside strings.
	Body json.RawMessage `json:"body,omitempty"`
}

// ReplayExpect is what a response must be.
type ReplayExpect struct {
	Status int `json:"status"`
	// Headers must be present with these values; a value matches a header
	// equal to it or equal to it followed by ";" and parameters.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is matched against the response body with the rules of
	// README.md: objects as subsets, arrays as exact sets in any order,
	// and the directives @absent, @present and @contains.
	Body json.RawMessage `json:"body,omitempty"`
	// Capture maps variable names to JSON Pointers (RFC 6901) into the
	// response body; later steps use them as ${name}.
	Capture map[string]string `json:"capture,omitempty"`
}

// ReplayTarget is the SCIM endpoint of one directory that sequences are
// replayed against.
type ReplayTarget struct {
	// BaseURL is the directory's SCIM base URL without a trailing slash,
	// e.g. "http://127.0.0.1:8080/scim/v2/default/default". It is also
	// the value of the variable ${base}.
	BaseURL string
	// Token is sent as "Authorization: Bearer <Token>" unless a step sets
	// its own Authorization header.
	Token string
	// Handler, when set, serves the requests in-process: nothing goes over
	// the network, and BaseURL only supplies the host and path prefix.
	Handler http.Handler
	// Client sends the requests when Handler is nil; nil means
	// http.DefaultClient.
	Client *http.Client
}

// ReadReplaySequence reads and checks a sequence file. Unknown keys in the
// file's own structure are an error, so a misspelt "expect" cannot make a
// step check nothing.
func ReadReplaySequence(path string) (*ReplaySequence, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var seq ReplaySequence
	if err := dec.Decode(&seq); err != nil {
		return nil, fmt.Errorf("replay %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("replay %s: data after the sequence object", path)
	}
	seq.File = path
	if err := seq.check(); err != nil {
		return nil, fmt.Errorf("replay %s: %w", path, err)
	}
	return &seq, nil
}

func (s *ReplaySequence) check() error {
	if strings.TrimSpace(s.Source) == "" {
		return errors.New(`"source" is required: name the public documents the shapes come from`)
	}
	if !slices.Contains(ReplayProfiles, s.Profile) {
		return fmt.Errorf(`"profile" is %q; want one of %v`, s.Profile, ReplayProfiles)
	}
	if len(s.Steps) == 0 {
		return errors.New(`"steps" is empty`)
	}
	if len(s.State) == 0 {
		return errors.New(`"state" is empty: a sequence must end with checks of the state it leaves`)
	}
	for i, st := range s.Steps {
		if err := st.check(); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	for i, st := range s.State {
		if err := st.check(); err != nil {
			return fmt.Errorf("state check %d: %w", i+1, err)
		}
		if st.Request.Method != http.MethodGet {
			return fmt.Errorf("state check %d: method %s; state checks are GET requests only", i+1, st.Request.Method)
		}
		if len(st.Expect.Body) == 0 && st.Expect.Status == http.StatusOK {
			return fmt.Errorf("state check %d: a 200 state check needs an expected body", i+1)
		}
	}
	return nil
}

func (st ReplayStep) check() error {
	switch st.Request.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
	default:
		return fmt.Errorf("method %q is not a SCIM method", st.Request.Method)
	}
	if !strings.HasPrefix(st.Request.Path, "/") {
		return fmt.Errorf("path %q must start with /", st.Request.Path)
	}
	if st.Expect.Status < 100 || st.Expect.Status > 599 {
		return fmt.Errorf("expect.status %d is not an HTTP status", st.Expect.Status)
	}
	if len(st.Request.Body) > 0 && !json.Valid(st.Request.Body) {
		return errors.New("request.body is not JSON")
	}
	if len(st.Expect.Body) > 0 {
		var v any
		if err := json.Unmarshal(st.Expect.Body, &v); err != nil {
			return fmt.Errorf("expect.body: %w", err)
		}
		if err := replayCheckDirectives(v, ""); err != nil {
			return fmt.Errorf("expect.body: %w", err)
		}
	}
	for name, ptr := range st.Expect.Capture {
		if !replayVarName.MatchString(name) {
			return fmt.Errorf("capture name %q: want letters, digits, '.', '_' or '-'", name)
		}
		if ptr != "" && !strings.HasPrefix(ptr, "/") {
			return fmt.Errorf("capture %q: %q is not a JSON Pointer", name, ptr)
		}
	}
	return nil
}

// replayCheckDirectives refuses unknown @ directives and directives in
// places where they mean nothing, when the sequence is read.
func replayCheckDirectives(v any, at string) error {
	switch x := v.(type) {
	case map[string]any:
		if d, arg, ok := replayDirective(x); ok {
			switch d {
			case "@absent", "@present":
				if arg != true {
					return fmt.Errorf("at %q: %s takes true", at, d)
				}
				return nil
			case "@contains":
				list, ok := arg.([]any)
				if !ok {
					return fmt.Errorf("at %q: @contains takes an array", at)
				}
				for i, e := range list {
					if err := replayCheckDirectives(e, at+"/"+strconv.Itoa(i)); err != nil {
						return err
					}
				}
				return nil
			}
			return fmt.Errorf("at %q: unknown directive %s", at, d)
		}
		for k, e := range x {
			if strings.HasPrefix(k, "@") {
				return fmt.Errorf("at %q: directive %s must be the only key of its object", at, k)
			}
			if err := replayCheckDirectives(e, at+"/"+replayEscapePointer(k)); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := replayCheckDirectives(e, at+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReplayFile reads the sequence at path and replays it against t.
func ReplayFile(ctx context.Context, t ReplayTarget, path string) error {
	seq, err := ReadReplaySequence(path)
	if err != nil {
		return err
	}
	return Replay(ctx, t, seq)
}

// Replay sends the steps of seq to t in order, then the state checks, and
// returns the first difference: an error that names the file, the step,
// the request and what differed, with the response body. The target
// should be a fresh directory: sequences create their users and groups
// and assume no others exist.
func Replay(ctx context.Context, t ReplayTarget, seq *ReplaySequence) error {
	name := seq.File
	if name == "" {
		name = "(sequence)"
	}
	if err := seq.check(); err != nil {
		return fmt.Errorf("replay %s: %w", name, err)
	}
	r := &replayRun{
		t:    t,
		seq:  seq,
		vars: map[string]string{"base": strings.TrimRight(t.BaseURL, "/")},
	}
	for i, st := range seq.Steps {
		if err := r.step(ctx, st); err != nil {
			return fmt.Errorf("replay %s: step %d%s: %w", name, i+1, replayNote(st), err)
		}
	}
	for i, st := range seq.State {
		if err := r.step(ctx, st); err != nil {
			return fmt.Errorf("replay %s: state check %d%s: %w", name, i+1, replayNote(st), err)
		}
	}
	return nil
}

func replayNote(st ReplayStep) string {
	if st.Note == "" {
		return ""
	}
	return " (" + st.Note + ")"
}

type replayRun struct {
	t    ReplayTarget
	seq  *ReplaySequence
	vars map[string]string
}

var (
	replayVarName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	replayVarRef  = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// subst replaces every ${name} in s; escape is applied to each value.
func (r *replayRun) subst(s string, escape func(string) string) (string, error) {
	var missing []string
	out := replayVarRef.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := r.vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		if escape != nil {
			return escape(v)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("undefined variable ${%s} (defined: %s)", missing[0], strings.Join(slices.Sorted(maps.Keys(r.vars)), ", "))
	}
	return out, nil
}

// replayJSONEscape escapes a value for the inside of a JSON string.
func replayJSONEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// replayDescribe renders a request for messages: the method and the path as
// written in the file.
func replayDescribe(req ReplayRequest) string {
	s := req.Method + " " + req.Path
	if len(req.Query) > 0 {
		sep := "?"
		if strings.Contains(req.Path, "?") {
			sep = "&"
		}
		for _, k := range slices.Sorted(maps.Keys(req.Query)) {
			s += sep + k + "=" + req.Query[k]
			sep = "&"
		}
	}
	return s
}

func (r *replayRun) step(ctx context.Context, st ReplayStep) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req, sent, err := r.build(ctx, st.Request)
	if err != nil {
		return fmt.Errorf("%s: %w", replayDescribe(st.Request), err)
	}
	status, header, body, err := r.send(req)
	if err != nil {
		return fmt.Errorf("%s: %w", replayDescribe(st.Request), err)
	}
	fail := func(format string, args ...any) error {
		msg := fmt.Sprintf("%s: %s", replayDescribe(st.Request), fmt.Sprintf(format, args...))
		msg += "\n  request: " + req.Method + " " + req.URL.RequestURI()
		if len(sent) > 0 {
			msg += "\n  request body: " + replayClip(sent)
		}
		msg += fmt.Sprintf("\n  response: %d %s", status, replayClip(body))
		return errors.New(msg)
	}
	if status != st.Expect.Status {
		return fail("status = %d; want %d", status, st.Expect.Status)
	}
	if status == http.StatusNoContent && len(bytes.TrimSpace(body)) > 0 {
		return fail("a 204 response has a body")
	}
	var got any
	if len(bytes.TrimSpace(body)) > 0 && (len(st.Expect.Body) > 0 || len(st.Expect.Capture) > 0) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			return fail("response body is not JSON: %v", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.Expect.Capture)) {
		ptr := st.Expect.Capture[name]
		if _, dup := r.vars[name]; dup {
			return fail("capture: variable ${%s} is already defined", name)
		}
		v, ok := replayPointer(got, ptr)
		if !ok {
			return fail("capture ${%s}: the response has nothing at %q", name, ptr)
		}
		switch x := v.(type) {
		case string:
			r.vars[name] = x
		case json.Number:
			r.vars[name] = x.String()
		case bool:
			r.vars[name] = strconv.FormatBool(x)
		default:
			return fail("capture ${%s}: the value at %q is not a string, number or boolean", name, ptr)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(st.Expect.Headers)) {
		want, err := r.subst(st.Expect.Headers[name], nil)
		if err != nil {
			return fail("expect.headers: %v", err)
		}
		gotH := header.Get(name)
		if gotH != want && !strings.HasPrefix(gotH, want+";") {
			return fail("header %s = %q; want %q", name, gotH, want)
		}
	}
	if len(st.Expect.Body) > 0 {
		wantRaw, err := r.subst(string(st.Expect.Body), replayJSONEscape)
		if err != nil {
			return fail("expect.body: %v", err)
		}
		dec := json.NewDecoder(strings.NewReader(wantRaw))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			return fail("expect.body after substitution: %v", err)
		}
		if got == nil {
			return fail("the response has no body; want %s", replayClip([]byte(wantRaw)))
		}
		if err := replayMatch(want, got, ""); err != nil {
			return fail("body %v", err)
		}
	}
	return nil
}

// build makes the HTTP request of a step; it returns the body it sends.
func (r *replayRun) build(ctx context.Context, rq ReplayRequest) (*http.Request, []byte, error) {
	path, err := r.subst(rq.Path, nil)
	if err != nil {
		return nil, nil, err
	}
	if len(rq.Query) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(rq.Query)) {
			v, err := r.subst(rq.Query[k], nil)
			if err != nil {
				return nil, nil, err
			}
			parts = append(parts, replayQueryEscape(k)+"="+replayQueryEscape(v))
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + strings.Join(parts, "&")
	}
	var body []byte
	if len(rq.Body) > 0 && string(bytes.TrimSpace(rq.Body)) != "null" {
		s, err := r.subst(string(rq.Body), replayJSONEscape)
		if err != nil {
			return nil, nil, err
		}
		body = []byte(s)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.Method, strings.TrimRight(r.t.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if r.t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.t.Token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for _, hs := range []map[string]string{r.seq.Headers, rq.Headers} {
		for k, v := range hs {
			v, err := r.subst(v, nil)
			if err != nil {
				return nil, nil, err
			}
			if v == "" {
				req.Header.Del(k)
				continue
			}
			req.Header.Set(k, v)
		}
	}
	return req, body, nil
}

// replayQueryEscape escapes a query component the way IdPs send it: spaces
// as %20, not "+".
func replayQueryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// replayMaxBody caps how much of a response is read.
const replayMaxBody = 16 << 20

func (r *replayRun) send(req *http.Request) (int, http.Header, []byte, error) {
	if r.t.Handler != nil {
		return replayServe(r.t.Handler, req)
	}
	c := r.t.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, replayMaxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the response: %w", err)
	}
	return res.StatusCode, res.Header, body, nil
}

// replayServe runs h in-process. A handler that aborts its response
// (http.ErrAbortHandler, or any panic that escapes it) is an error, as a
// cut connection would be.
func replayServe(h http.Handler, req *http.Request) (status int, header http.Header, body []byte, err error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:1"
	w := &replayRecorder{header: http.Header{}}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("the handler aborted the response: %v", v)
		}
	}()
	h.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.status, w.header, w.body.Bytes(), nil
}

// replayRecorder is the http.ResponseWriter of in-process replays.
type replayRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *replayRecorder) Header() http.Header { return w.header }

func (w *replayRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		w.header = w.header.Clone()
	}
}

func (w *replayRecorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func replayClip(b []byte) string {
	const limit = 2048
	s := string(bytes.TrimSpace(b))
	if len(s) > limit {
		s = s[:limit] + fmt.Sprintf("… (%d bytes)", len(b))
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

// replayPointer resolves a JSON Pointer (RFC 6901) in v.
func replayPointer(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, v != nil
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			e, ok := x[tok]
			if !ok {
				return nil, false
			}
			v = e
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, v != nil
}

func replayEscapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// replayDirective reports whether m is a directive object: exactly one
// key, starting with "@".
func replayDirective(m map[string]any) (name string, arg any, ok bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		if strings.HasPrefix(k, "@") {
			return k, v, true
		}
	}
	return "", nil, false
}

// replayUnassigned reports whether v is an unassigned value in the sense
// of RFC 7643 section 2.5: null or an empty array (a missing key is
// handled by the caller).
func replayUnassigned(v any) bool {
	if v == nil {
		return true
	}
	list, ok := v.([]any)
	return ok && len(list) == 0
}

// replayMatch checks got against want (the rules of README.md) and
// returns the first difference, located by a JSON Pointer.
func replayMatch(want, got any, at string) error {
	where := at
	if where == "" {
		where = "/"
	}
	switch w := want.(type) {
	case map[string]any:
		if d, arg, ok := replayDirective(w); ok {
			switch d {
			case "@present":
				if replayUnassigned(got) {
					return fmt.Errorf("at %s: got %s; want a value", where, replayJSON(got))
				}
				return nil
			case "@contains":
				list, ok := got.([]any)
				if !ok {
					return fmt.Errorf("at %s: got %s; want an array containing %s", where, replayJSON(got), replayJSON(arg))
				}
				return replayMatchSet(arg.([]any), list, at, false)
			case "@absent":
				return fmt.Errorf("at %s: @absent is only allowed as the value of an object member", where)
			}
			return fmt.Errorf("at %s: unknown directive %s", where, d)
		}
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("at %s: got %s; want an object", where, replayJSON(got))
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			wv := w[k]
			gv, present := g[k]
			p := at + "/" + replayEscapePointer(k)
			if m, ok := wv.(map[string]any); ok {
				if d, _, ok := replayDirective(m); ok {
					switch d {
					case "@absent":
						if present && !replayUnassigned(gv) {
							return fmt.Errorf("at %s: got %s; want it absent", p, replayJSON(gv))
						}
						continue
					case "@present":
						if !present {
							return fmt.Errorf("at %s: missing; want a value", p)
						}
						if replayUnassigned(gv) {
							return fmt.Errorf("at %s: got %s; want a value", p, replayJSON(gv))
						}
						continue
					}
				}
			}
			if !present {
				return fmt.Errorf("at %s: missing; want %s", p, replayJSON(wv))
			}
			if err := replayMatch(wv, gv, p); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("at %s: got %s; want an array of %d elements", where, replayJSON(got), len(w))
		}
		if len(g) != len(w) {
			return fmt.Errorf("at %s: got %d elements %s; want exactly %d %s", where, len(g), replayJSON(g), len(w), replayJSON(w))
		}
		return replayMatchSet(w, g, at, true)
	case json.Number:
		n, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("at %s: got %s; want the number %s", where, replayJSON(got), w)
		}
		a, err1 := strconv.ParseFloat(string(w), 64)
		b, err2 := strconv.ParseFloat(string(n), 64)
		if err1 != nil || err2 != nil || a != b {
			return fmt.Errorf("at %s: got %s; want %s", where, n, w)
		}
		return nil
	default: // string, bool, nil
		if got != want {
			return fmt.Errorf("at %s: got %s; want %s", where, replayJSON(got), replayJSON(want))
		}
		return nil
	}
}

// replayMatchSet pairs every element of want with a distinct element of
// got that matches it (a bipartite matching, so that a loose element of
// want cannot take the only element a stricter one matches). exact says
// that got has no other elements (the caller checked the lengths).
func replayMatchSet(want, got []any, at string, exact bool) error {
	ok := make([][]bool, len(want))
	for i, w := range want {
		ok[i] = make([]bool, len(got))
		for j, g := range got {
			ok[i][j] = replayMatch(w, g, "") == nil
		}
	}
	owner := make([]int, len(got)) // element of want matched to got[j], or -1
	for j := range owner {
		owner[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for j := range got {
			if !ok[i][j] || seen[j] {
				continue
			}
			seen[j] = true
			if owner[j] < 0 || try(owner[j], seen) {
				owner[j] = i
				return true
			}
		}
		return false
	}
	where := at
	if where == "" {
		where = "/"
	}
	for i, w := range want {
		if try(i, make([]bool, len(got))) {
			continue
		}
		kind := "contains"
		if exact {
			kind = "is exactly, in any order,"
		}
		// Say why the closest candidate differs, when there is one.
		why := ""
		for j, g := range got {
			if err := replayMatch(w, g, at+"/"+strconv.Itoa(j)); err != nil && why == "" {
				why = "; e.g. " + err.Error()
			}
		}
		if len(got) == 0 {
			why = ""
		}
		return fmt.Errorf("at %s: no element left to match %s (want the array that %s %s; got %s)%s",
			where, replayJSON(w), kind, replayJSON(want), replayJSON(got), why)
	}
	return nil
}

func replayJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return replayClip(b)
}
