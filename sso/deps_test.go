package sso

// Pins the test-only and protocol modules while the SSO code is written.
import (
	_ "github.com/beevik/etree"
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/coreos/go-oidc/v3/oidc/oidctest"
	_ "github.com/crewjam/saml"
	_ "github.com/crewjam/saml/samlidp"
	_ "github.com/crewjam/saml/samlsp"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/russellhaering/goxmldsig"
	_ "github.com/zitadel/oidc/v3/example/server/exampleop"
	_ "github.com/zitadel/oidc/v3/example/server/storage"
	_ "golang.org/x/oauth2"
)
