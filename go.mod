module github.com/scimbridge/scimbridge

go 1.26

require (
	github.com/elimity-com/scim v0.0.0-20260728105928-2641426a1539
	github.com/google/go-cmp v0.7.0
	github.com/rs/zerolog v1.35.1
	github.com/scim2/filter-parser/v2 v2.3.1
	go.etcd.io/bbolt v1.5.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/text v0.41.0
)

require (
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/q-uint/parser v0.3.1 // indirect
	github.com/q-uint/xsd-datetime v1.0.0 // indirect
	github.com/rs/xid v1.6.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
