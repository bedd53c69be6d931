package web_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"snowlight/geo"
	"snowlight/web"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type openAPIDoc struct {
	OpenAPI    string
	Paths      map[string]map[string]json.RawMessage
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage
			AllOf      []struct {
				Ref        string `json:"$ref"`
				Properties map[string]json.RawMessage
			}
		}
	}
}

// docPath turns a ServeMux pattern path into an OpenAPI path: "/{$}" is "/", "{key...}" is "{key}".
func docPath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return strings.ReplaceAll(p, "...}", "}")
}

// TestOpenAPIDocumentsEveryRoute checks that the served document lists every registered route, and
// nothing else, with the roles the route really admits.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	p := newProduct(t, nil, nil)
	r := p.Do(t, "GET", "/api/v1/openapi.json", "", "")
	wantStatus(t, r, http.StatusOK)
	var doc openAPIDoc
	decode(t, r, &doc)
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "openapi version %q", doc.OpenAPI)
	registered := map[string]bool{}
	for _, ri := range p.Server.Routes() {
		path, method := docPath(ri.Path), strings.ToLower(ri.Method)
		registered[method+" "+path] = true
		raw, ok := doc.Paths[path][method]
		if !assert.True(t, ok, "route %s is not in openapi.json (as %s %s)", ri.Pattern, method, path) {
			continue
		}
		var op struct {
			Summary   string
			Roles     []string `json:"x-roles"`
			Responses map[string]json.RawMessage
		}
		require.NoError(t, json.Unmarshal(raw, &op), ri.Pattern)
		assert.NotEmpty(t, op.Summary, "%s: no summary documented", ri.Pattern)
		assert.NotEmpty(t, op.Responses, "%s: no responses documented", ri.Pattern)
		var roles []string
		for _, r := range ri.Policy.Roles {
			roles = append(roles, string(r))
		}
		assert.ElementsMatch(t, roles, op.Roles, "%s: the roles the policy admits, and those documented", ri.Pattern)
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			assert.True(t, registered[method+" "+path], "openapi.json documents %s %s, which no route serves", method, path)
		}
	}
}

// TestOpenAPISchemasMatchTheViews checks that each documented schema has exactly the JSON fields of the
// Go type the handlers encode.
func TestOpenAPISchemasMatchTheViews(t *testing.T) {
	p := newProduct(t, nil, nil)
	var doc openAPIDoc
	decode(t, p.Do(t, "GET", "/api/v1/openapi.json", "", ""), &doc)
	for name, v := range map[string]any{
		"AlertView": web.AlertView{}, "FaceCrop": web.FaceCrop{}, "AlertHistory": web.AlertHistory{}, "Media": web.Media{}, "Clip": web.Clip{},
		"LatLon": geo.LatLon{}, "PatrolView": web.PatrolView{}, "PatrolInput": web.PatrolInput{}, "PositionUpdate": web.PositionUpdate{},
		"CameraView": web.CameraView{}, "EdgeView": web.EdgeView{}, "PersonView": web.PersonView{}, "PhotoResult": web.PhotoResult{}, "EnrolResult": web.EnrolResult{},
		"SightingView": web.SightingView{}, "TrajectoryView": web.TrajectoryView{}, "GuardedPerson": web.GuardedPerson{},
		"HoldItem": web.HoldItem{}, "HoldView": web.HoldView{}, "HoldRelease": web.HoldRelease{},
		"SearchHit": web.SearchHit{}, "ClothesView": web.ClothesView{}, "DescriptionView": web.DescriptionView{}, "TermView": web.TermView{},
		"ExportView": web.ExportView{}, "SigningKeyView": web.SigningKeyView{}, "AssignmentView": web.AssignmentView{},
		"RoutePoint": web.RoutePoint{},
	} {
		s, ok := doc.Components.Schemas[name]
		if !assert.True(t, ok, "schema %s missing", name) {
			continue
		}
		checkFields(t, name, reflect.TypeOf(v), s.Properties)
	}
	// AlertDetail is AlertView plus its own fields.
	d := doc.Components.Schemas["AlertDetail"]
	require.Len(t, d.AllOf, 2, "AlertDetail schema: %+v", d)
	assert.Equal(t, "#/components/schemas/AlertView", d.AllOf[0].Ref)
	own := reflect.StructOf(ownFields(reflect.TypeOf(web.AlertDetail{})))
	checkFields(t, "AlertDetail", own, d.AllOf[1].Properties)
}

func ownFields(rt reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range rt.NumField() {
		if f := rt.Field(i); !f.Anonymous {
			out = append(out, f)
		}
	}
	return out
}

func jsonFields(rt reflect.Type) []string {
	var out []string
	for i := range rt.NumField() {
		f := rt.Field(i)
		if f.Anonymous {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

func checkFields(t *testing.T, name string, rt reflect.Type, props map[string]json.RawMessage) {
	t.Helper()
	fields := jsonFields(rt)
	for _, f := range fields {
		assert.Contains(t, props, f, "schema %s lacks field %q", name, f)
	}
	for p := range props {
		assert.Contains(t, fields, p, "schema %s documents %q, which %s does not have", name, p, rt)
	}
}
