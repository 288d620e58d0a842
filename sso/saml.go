package sso

import "net/http"

// samlState holds the per-directory SAML service providers. Placeholder:
// the SAML service provider is being written.
type samlState struct{}

func (h *Handler) samlMetadata(w http.ResponseWriter, r *http.Request, d *dirContext) {
	h.page(w, r, http.StatusNotImplemented, "SAML is not available yet.")
}

func (h *Handler) samlLogin(w http.ResponseWriter, r *http.Request, d *dirContext) {
	h.page(w, r, http.StatusNotImplemented, "SAML is not available yet.")
}

func (h *Handler) samlACS(w http.ResponseWriter, r *http.Request, d *dirContext) {
	h.page(w, r, http.StatusNotImplemented, "SAML is not available yet.")
}
