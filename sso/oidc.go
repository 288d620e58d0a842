package sso

import "net/http"

// oidcState holds the per-directory OIDC providers. Placeholder: the
// relying party is being written.
type oidcState struct{}

func (h *Handler) oidcLogin(w http.ResponseWriter, r *http.Request, d *dirContext) {
	h.page(w, r, http.StatusNotImplemented, "OIDC is not available yet.")
}

func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request, d *dirContext) {
	h.page(w, r, http.StatusNotImplemented, "OIDC is not available yet.")
}
