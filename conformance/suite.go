package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// suite is one run: where it talks, what the server advertises, and what
// the run created.
type suite struct {
	base    string // SCIM base URL, no trailing slash
	token   string
	profile string
	prefix  string
	client  *http.Client
	out     io.Writer

	// From discovery (never nil after discover; empty when unreadable).
	spc          map[string]any
	enterprise   bool // the User resource type has the enterprise extension
	groupsOnUser bool // the User schema declares "groups"

	seq int // names handed out; guarded by mu

	mu      sync.Mutex
	created []resourceRef // in creation order
	pending []resourceRef // created (2xx) but no id in the response

	popOnce sync.Once
	pop     *population
	popErr  error
}

// resourceRef is a user or group the suite created.
type resourceRef struct {
	kind string // "Users" or "Groups"
	id   string
	name string // userName or displayName as sent
}

func newSuite(cfg Config) (*suite, error) {
	s := &suite{token: cfg.Token, out: cfg.Out, client: cfg.Client, prefix: cfg.Prefix}
	switch p := strings.ToLower(strings.TrimSpace(cfg.Profile)); p {
	case "":
		s.profile = ProfileGeneric
	case ProfileGeneric, ProfileOkta, ProfileEntra, ProfileGoogle:
		s.profile = p
	default:
		return nil, fmt.Errorf("conformance: unknown profile %q (want generic, okta, entra or google)", cfg.Profile)
	}
	if s.token == "" {
		return nil, errors.New("conformance: a bearer token is required")
	}
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	if err != nil {
		return nil, fmt.Errorf("conformance: invalid URL %q: %v", cfg.URL, err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("conformance: the URL %q has a query or fragment; give the SCIM base URL only", cfg.URL)
	}
	if cfg.Handler != nil {
		if u.Host == "" {
			u.Host = "conformance.invalid"
		}
		if u.Scheme == "" {
			u.Scheme = "http"
		}
		s.client = &http.Client{Transport: handlerTransport{cfg.Handler}, Timeout: defaultTimeout}
	} else {
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("conformance: invalid URL %q: want an absolute http or https URL such as http://127.0.0.1:8080/scim/v2/default/default", cfg.URL)
		}
		if s.client == nil {
			s.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: defaultTimeout}
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	s.base = u.Scheme + "://" + u.Host + u.EscapedPath()
	if s.prefix == "" {
		s.prefix = DefaultPrefix + randomHex(4)
	}
	if s.out == nil {
		s.out = io.Discard
	}
	return s, nil
}

// discover reads what the server advertises. It fails only when the
// server cannot be reached or refuses the token: then nothing else can
// run. A server without readable discovery is still tested; the
// discovery checks fail and the optional features count as unsupported.
func (s *suite) discover(ctx context.Context) error {
	s.spc = map[string]any{}
	r, err := s.do(ctx, "GET", "/ServiceProviderConfig", nil)
	if err != nil {
		return fmt.Errorf("conformance: cannot reach the SCIM server at %s: %v", s.base, err)
	}
	if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
		return fmt.Errorf("conformance: the server refused the token (%s); check the token and that the URL is this token's directory", r)
	}
	if r.status == http.StatusOK && r.obj != nil {
		s.spc = r.obj
	}
	spcStatus := r.status
	// Discovery may be open to anyone; the token must open /Users.
	r, err = s.do(ctx, "GET", "/Users?startIndex=1&count=1", nil)
	if err != nil {
		return fmt.Errorf("conformance: cannot reach the SCIM server at %s: %v", s.base, err)
	}
	if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
		return fmt.Errorf("conformance: the server refused the token (%s); check the token and that the URL is this token's directory", r)
	}
	if spcStatus == http.StatusNotFound && r.status == http.StatusNotFound {
		return fmt.Errorf("conformance: %s is not a SCIM base URL: GET /ServiceProviderConfig and GET /Users both answer 404", s.base)
	}
	if r, err := s.do(ctx, "GET", "/ResourceTypes", nil); err == nil {
		for _, rt := range listOrArray(r) {
			if str(rt, "endpoint") != "/Users" && !strings.EqualFold(str(rt, "name"), "User") {
				continue
			}
			for _, e := range list(rt, "schemaExtensions") {
				if strings.EqualFold(str(e, "schema"), enterpriseURN) {
					s.enterprise = true
				}
			}
		}
	}
	if r, err := s.do(ctx, "GET", "/Schemas", nil); err == nil {
		for _, sc := range listOrArray(r) {
			if strings.EqualFold(str(sc, "id"), userURN) {
				for _, a := range list(sc, "attributes") {
					if strings.EqualFold(str(a, "name"), "groups") {
						s.groupsOnUser = true
					}
				}
			}
		}
	}
	return nil
}

// listOrArray returns the resources of a ListResponse, or the elements of
// a bare JSON array (some servers answer /ResourceTypes that way).
func listOrArray(r *response) []map[string]any {
	if arr, ok := r.json.([]any); ok {
		var out []map[string]any
		for _, v := range arr {
			if m, ok := v.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return r.resources()
}

// supported reports whether /ServiceProviderConfig says feature.supported
// is true.
func (s *suite) supported(feature string) bool {
	b, _ := boolean(s.spc, feature, "supported")
	return b
}

// need skips the check unless feature is advertised.
func (s *suite) need(feature string) error {
	if !s.supported(feature) {
		return skipf("%s is not advertised in /ServiceProviderConfig (%s.supported is not true)", feature, feature)
	}
	return nil
}

func (s *suite) needEnterprise() error {
	if !s.enterprise {
		return skipf("the User resource type does not list the enterprise extension in /ResourceTypes")
	}
	return nil
}

func (s *suite) needGroupsOnUser() error {
	if !s.groupsOnUser {
		return skipf("the User schema in /Schemas does not declare the \"groups\" attribute")
	}
	return nil
}

// minScrubbedToken is the shortest token scrub hides: a shorter one (a
// test value such as "x") would blot out ordinary text, and is no secret.
const minScrubbedToken = 8

// scrub removes the token from text that is about to be printed, in case
// a server echoes it.
func (s *suite) scrub(text string) string {
	if len(s.token) < minScrubbedToken {
		return text
	}
	return strings.ReplaceAll(text, s.token, "[token]")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomUUID returns a random UUID v4, as Entra's probes send.
func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// name returns a new name under the prefix: prefix + label + a sequence
// number, unique within the run.
func (s *suite) name(label string) string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return s.join(fmt.Sprintf("%s%d", label, n))
}

// join appends to the prefix with a "-" unless the prefix already ends in
// a separator.
func (s *suite) join(rest string) string {
	if s.prefix == "" || strings.ContainsAny(s.prefix[len(s.prefix)-1:], "-_.:/@") {
		return s.prefix + rest
	}
	return s.prefix + "-" + rest
}

// userName returns a new userName under the prefix. It is lower case and
// has the shape of an email address, as IdPs send.
func (s *suite) userName(label string) string {
	return s.name(label) + "@example.com"
}

// track records what a POST to /Users or /Groups created, so that
// cleanup deletes it whatever the check does next.
func (s *suite) track(method, path string, body any, r *response) {
	p, _, _ := strings.Cut(path, "?")
	if method != "POST" || (p != "/Users" && p != "/Groups") || r.status < 200 || r.status > 299 {
		return
	}
	ref := resourceRef{kind: p[1:], id: str(r.obj, "id"), name: nameOf(body)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ref.id == "" {
		s.pending = append(s.pending, ref)
		return
	}
	s.created = append(s.created, ref)
}

// register records a resource created by other means (bulk); without an
// id, cleanup looks it up by name.
func (s *suite) register(kind, id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" {
		s.pending = append(s.pending, resourceRef{kind: kind, name: name})
		return
	}
	s.created = append(s.created, resourceRef{kind: kind, id: id, name: name})
}

// nameOf reads the userName or displayName of a request body.
func nameOf(body any) string {
	m, ok := body.(map[string]any)
	if !ok {
		var raw []byte
		switch b := body.(type) {
		case string:
			raw = []byte(b)
		case []byte:
			raw = b
		}
		_ = json.Unmarshal(raw, &m)
	}
	if n := str(m, "userName"); n != "" {
		return n
	}
	return str(m, "displayName")
}

// cleanup deletes every user and group the run created, groups first,
// and then checks that each is gone. It runs on a context of its own so
// that a cancelled run still cleans up. It never deletes a resource it
// did not create: ids come from the run's own 201 responses, and a
// resource created without an id in its response is found by its exact
// name, which carries the run's prefix.
func (s *suite) cleanup(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	res := Result{Name: "cleanup", Status: Pass}

	s.mu.Lock()
	created := append([]resourceRef(nil), s.created...)
	pending := append([]resourceRef(nil), s.pending...)
	s.mu.Unlock()
	known := map[string]bool{}
	for _, c := range created {
		known[c.id] = true
	}
	var problems []string
	for _, p := range pending {
		if p.name == "" || !strings.HasPrefix(p.name, s.prefix) {
			problems = append(problems, fmt.Sprintf("a %s resource was created without an id in the response and without a name to find it by", p.kind))
			continue
		}
		attr := "userName"
		if p.kind == "Groups" {
			attr = "displayName"
		}
		r, err := s.do(ctx, "GET", "/"+p.kind+"?filter="+filterQuery(attr+" eq "+quote(p.name)), nil)
		if err != nil || r.status != http.StatusOK {
			problems = append(problems, fmt.Sprintf("cannot find %s %q to delete it", p.kind, p.name))
			continue
		}
		for _, m := range r.resources() {
			if id := str(m, "id"); id != "" && !known[id] && strings.EqualFold(str(m, attr), p.name) {
				known[id] = true
				created = append(created, resourceRef{kind: p.kind, id: id, name: p.name})
			}
		}
	}

	var deleted []resourceRef
	for _, kind := range []string{"Groups", "Users"} {
		for _, c := range created {
			if c.kind != kind {
				continue
			}
			path := "/" + c.kind + "/" + url.PathEscape(c.id)
			r, err := s.do(ctx, "DELETE", path, nil)
			switch {
			case err != nil:
				problems = append(problems, err.Error())
			case r.status == http.StatusNoContent || r.status == http.StatusOK || r.status == http.StatusNotFound:
				deleted = append(deleted, c)
			default:
				problems = append(problems, fmt.Sprintf("%s: %s", r, r.snippet()))
			}
		}
	}
	for _, c := range deleted {
		r, err := s.do(ctx, "GET", "/"+c.kind+"/"+url.PathEscape(c.id), nil)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case r.status != http.StatusNotFound:
			problems = append(problems, fmt.Sprintf("%s %s still exists after DELETE (%s)", c.kind, c.id, r))
		}
	}
	if len(problems) > 0 {
		res.Status = Fail
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		res.Reason = fmt.Sprintf("%d created resources; could not remove them all: %s", len(created), strings.Join(problems, "; "))
	}
	return res
}
