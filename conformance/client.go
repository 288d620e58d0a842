package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SCIM URNs and media type.
const (
	scimMediaType    = "application/scim+json"
	userURN          = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN         = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN    = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchOpURN       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listResponseURN  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	errorURN         = "urn:ietf:params:scim:api:messages:2.0:Error"
	bulkRequestURN   = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN  = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	spcURN           = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeURN  = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	microsoftGroupNS = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
)

const (
	// defaultTimeout is the per-request timeout of the default client.
	defaultTimeout = 30 * time.Second
	// maxResponseBytes caps what is read of one response.
	maxResponseBytes = 64 << 20
	// snippetBytes is how much of a response body a failure quotes.
	snippetBytes = 300
)

// response is one exchange, read whole. json is the decoded body (numbers
// as json.Number) when it is JSON; obj is json when it is an object.
type response struct {
	method  string
	path    string
	status  int
	header  http.Header
	raw     []byte
	json    any
	obj     map[string]any
	elapsed time.Duration
}

// do sends one request to the base URL + path. body is nil, a string or
// []byte (sent as is), or any other value (sent as JSON). hdr are header
// name/value pairs; an empty value removes the header (so "Authorization",
// "" sends no token). A transport error is returned as an error; any HTTP
// status is a response.
func (s *suite) do(ctx context.Context, method, path string, body any, hdr ...string) (*response, error) {
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
	}
	// A 429 is waited out as an IdP does (Retry-After, a few times), so
	// a server's rate limit does not fail the checks.
	for attempt := 0; ; attempt++ {
		r, err := s.send(ctx, method, path, body, raw, hdr)
		if err != nil || r.status != http.StatusTooManyRequests || attempt == maxRetries429 {
			return r, err
		}
		wait := time.Second
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err == nil && n > 0 {
			wait = min(time.Duration(n)*time.Second, 10*time.Second)
		}
		select {
		case <-ctx.Done():
			return r, nil
		case <-time.After(wait):
		}
	}
}

// maxRetries429 is how often a request answered 429 is sent again.
const maxRetries429 = 5

// send sends one request; see do.
func (s *suite) send(ctx context.Context, method, path string, body any, raw []byte, hdr []string) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, short(path), err)
	}
	req.Header.Set("Accept", scimMediaType)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", scimMediaType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, short(path), err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the response: %w", method, short(path), err)
	}
	r := &response{
		method:  method,
		path:    path,
		status:  res.StatusCode,
		header:  res.Header,
		raw:     data,
		elapsed: time.Since(start),
	}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			r.json = v
			r.obj, _ = v.(map[string]any)
		}
	}
	s.track(method, path, body, r)
	return r, nil
}

// short shortens a path for messages (a 10,000-deep filter is 60 KB).
func short(path string) string {
	if len(path) > 120 {
		return path[:100] + "…(" + strconv.Itoa(len(path)) + " bytes)"
	}
	return path
}

// String names the exchange for messages: "GET /Users/…: 404".
func (r *response) String() string {
	return fmt.Sprintf("%s %s: %d", r.method, short(r.path), r.status)
}

// snippet is the start of the body, for failure messages.
func (r *response) snippet() string {
	b := bytes.TrimSpace(r.raw)
	if len(b) == 0 {
		return "(empty body)"
	}
	if len(b) > snippetBytes {
		return string(b[:snippetBytes]) + "…"
	}
	return string(b)
}

// want fails unless the status is one of codes.
func (r *response) want(codes ...int) error {
	for _, c := range codes {
		if r.status == c {
			return nil
		}
	}
	want := make([]string, len(codes))
	for i, c := range codes {
		want[i] = strconv.Itoa(c)
	}
	return failf("%s %s: status %d, want %s: %s", r.method, short(r.path), r.status, strings.Join(want, " or "), r.snippet())
}

// wantObject fails unless the status is one of codes and the body is a
// JSON object.
func (r *response) wantObject(codes ...int) error {
	if err := r.want(codes...); err != nil {
		return err
	}
	if r.obj == nil {
		return failf("%s: body is not a JSON object: %s", r, r.snippet())
	}
	return nil
}

// wantSCIMError checks a SCIM error response (RFC 7644 section 3.12):
// the status, the Error schema, "status" as a JSON string equal to the
// HTTP status, and, when scimTypes are given, a scimType among them.
func (r *response) wantSCIMError(status int, scimTypes ...string) error {
	if err := r.want(status); err != nil {
		return err
	}
	if r.obj == nil {
		return failf("%s: the error body is not a SCIM error (JSON object): %s", r, r.snippet())
	}
	if !hasString(list(r.obj, "schemas"), errorURN) {
		return failf("%s: error schemas = %v; want [%s]: %s", r, get(r.obj, "schemas"), errorURN, r.snippet())
	}
	if st, ok := get(r.obj, "status").(string); !ok || st != strconv.Itoa(status) {
		return failf("%s: error \"status\" = %s; want the JSON string %q (RFC 7644 section 3.12)", r, jsonText(get(r.obj, "status")), strconv.Itoa(status))
	}
	if len(scimTypes) > 0 {
		got := str(r.obj, "scimType")
		for _, t := range scimTypes {
			if got == t {
				return nil
			}
		}
		return failf("%s: scimType = %q; want %s: %s", r, got, strings.Join(quoteAll(scimTypes), " or "), r.snippet())
	}
	return nil
}

// wantSCIMContentType fails unless the response says application/scim+json.
func (r *response) wantSCIMContentType() error {
	ct := r.header.Get("Content-Type")
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), scimMediaType) {
		return failf("%s: Content-Type = %q; want %s", r, ct, scimMediaType)
	}
	return nil
}

// resources returns the Resources of a ListResponse.
func (r *response) resources() []map[string]any {
	var out []map[string]any
	for _, v := range list(r.obj, "Resources") {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// ids returns the ids of a ListResponse's Resources, in order.
func (r *response) ids() []string {
	var out []string
	for _, m := range r.resources() {
		out = append(out, str(m, "id"))
	}
	return out
}

// handlerTransport serves requests with an http.Handler in-process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (res *http.Response, err error) {
	if req.Body == nil {
		req.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				err = errors.New("the handler aborted the response")
				return
			}
			err = fmt.Errorf("the handler panicked: %v", v)
		}
	}()
	// The handler sees what a server would: a request URI, no client-side
	// fields.
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:1"
	t.h.ServeHTTP(rec, sreq)
	res = rec.Result()
	res.Request = req
	return res, nil
}

// filterQuery escapes a filter for a query string the way IdPs do (%20
// for spaces, not +).
func filterQuery(filter string) string {
	return strings.ReplaceAll(url.QueryEscape(filter), "+", "%20")
}

// quote renders a filter string literal (RFC 7644: a JSON string).
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// get walks nested objects by attribute name. SCIM attribute names are
// case-insensitive (RFC 7643 section 2.1), so a key is matched exactly
// first and then without regard to case.
func get(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if x, ok := m[k]; ok {
			v = x
			continue
		}
		v = nil
		for mk, x := range m {
			if strings.EqualFold(mk, k) {
				v = x
				break
			}
		}
	}
	return v
}

func has(v any, path ...string) bool {
	if len(path) == 0 {
		return v != nil
	}
	m, ok := get(v, path[:len(path)-1]...).(map[string]any)
	if !ok {
		return false
	}
	for k := range m {
		if strings.EqualFold(k, path[len(path)-1]) {
			return true
		}
	}
	return false
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

func obj(v any, path ...string) map[string]any {
	m, _ := get(v, path...).(map[string]any)
	return m
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...).([]any)
	return l
}

// boolean returns a JSON boolean; ok is false for anything else (a
// string "true" included).
func boolean(v any, path ...string) (b, ok bool) {
	b, ok = get(v, path...).(bool)
	return b, ok
}

// integer returns a JSON integer (a number without fraction or exponent).
func integer(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(n.String(), ".eE") {
		return 0, false
	}
	i, err := strconv.Atoi(n.String())
	return i, err == nil
}

func hasString(l []any, want string) bool {
	for _, v := range l {
		if s, ok := v.(string); ok && strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

// jsonText renders a value for messages.
func jsonText(v any) string {
	if v == nil {
		return "absent"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// element finds the first element of a multi-valued attribute whose
// sub-attribute key equals value.
func element(v any, attr, key, value string) map[string]any {
	for _, e := range list(v, attr) {
		if m, ok := e.(map[string]any); ok && str(m, key) == value {
			return m
		}
	}
	return nil
}

// values returns the "value" sub-attribute of every element of a
// multi-valued attribute, sorted.
func values(v any, attr string) []string {
	var out []string
	for _, e := range list(v, attr) {
		out = append(out, str(e, "value"))
	}
	sort.Strings(out)
	return out
}

func sorted(ss ...string) []string {
	return slices.Sorted(slices.Values(ss))
}
