package client

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
)

// providerSpecPath is the provider's description with the project's corrections, shared between the
// helpers of the project; CI lays shared/ beside the clone. The tests read the project's own copy
// (specPath); this one is only compared with it.
const providerSpecPath = "../../shared/pecmassiva/openapi.pecbatch.json"

// httpMethods are the keys of an OpenAPI path item that are operations.
var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}

// contractFacts lists what a client depends on in an OpenAPI description, each as a line: every
// operation, every status code of every operation, every "required" (of schemas, parameters and bodies)
// with its value, and the shape (keys and JSON types, not values) of every example.
func contractFacts(t *testing.T, spec []byte) map[string]bool {
	t.Helper()
	var doc any
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatalf("parsing the contract: %v", err)
	}
	facts := map[string]bool{}
	root, _ := doc.(map[string]any)
	paths, _ := root["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			if !httpMethods[method] {
				continue
			}
			facts["operation "+strings.ToUpper(method)+" "+path] = true
			o, _ := op.(map[string]any)
			responses, _ := o["responses"].(map[string]any)
			for code := range responses {
				facts["status "+strings.ToUpper(method)+" "+path+" "+code] = true
			}
		}
	}
	walkFacts(doc, "", facts)
	return facts
}

// walkFacts adds the "required" and example facts found under node, at pointer ptr.
func walkFacts(node any, ptr string, facts map[string]bool) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			here := ptr + "/" + k
			switch k {
			case "required":
				facts["required "+here+" = "+canonicalRequired(v)] = true
			case "example":
				facts["example "+here+" has shape "+jsonShape(v)] = true
				continue
			}
			walkFacts(v, here, facts)
		}
	case []any:
		for i, v := range n {
			walkFacts(v, ptr+"/"+elementKey(v, i), facts)
		}
	}
}

// elementKey names an array element by what it is rather than where it is when it can (a parameter by its
// name and place), so that reordering a list of parameters is not a disagreement.
func elementKey(v any, i int) string {
	if m, ok := v.(map[string]any); ok {
		if name, ok := m["name"].(string); ok {
			in, _ := m["in"].(string)
			return name + "@" + in
		}
	}
	b, _ := json.Marshal(i)
	return string(b)
}

// canonicalRequired renders a "required" value: a list of names in sorted order, or a boolean.
func canonicalRequired(v any) string {
	if list, ok := v.([]any); ok {
		names := make([]string, 0, len(list))
		for _, x := range list {
			b, _ := json.Marshal(x)
			names = append(names, string(b))
		}
		sort.Strings(names)
		return "[" + strings.Join(names, ",") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonShape renders the keys and JSON types of a value, not its values.
func jsonShape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + jsonShape(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = jsonShape(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

// disagreements lists the facts only one of two descriptions holds.
func disagreements(ours, theirs map[string]bool) []string {
	var out []string
	for f := range ours {
		if !theirs[f] {
			out = append(out, "only in the project's copy: "+f)
		}
	}
	for f := range theirs {
		if !ours[f] {
			out = append(out, "only in the provider's file: "+f)
		}
	}
	slices.Sort(out)
	return out
}

// TestContractAgreesWithProvider checks that the project's own description (testdata/openapi.json, which
// the contract tests validate against) says what the shared provider file says. Without a shared/
// directory beside the clone there is nothing to compare: the subtest says so and checks nothing, while
// every other contract test still runs on the project's copy.
func TestContractAgreesWithProvider(t *testing.T) {
	ours, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("provider's corrected file", func(t *testing.T) {
		theirs, err := os.ReadFile(providerSpecPath)
		if errors.Is(err, fs.ErrNotExist) {
			t.Log("no ../shared beside the clone: agreement not checked")
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if diff := disagreements(contractFacts(t, ours), contractFacts(t, theirs)); len(diff) > 0 {
			t.Errorf("%s and %s disagree (copy the provider's file into testdata, or record the correction):\n%s",
				specPath, providerSpecPath, strings.Join(diff, "\n"))
		}
	})
}

// TestContractFactsSeeDifferences proves the comparison above can fail: each change a provider could make
// to its description is a disagreement.
func TestContractFactsSeeDifferences(t *testing.T) {
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	base := contractFacts(t, spec)
	for _, want := range []string{
		"operation GET /send/{code}",
		"status GET /send/{code} 404",
		"required /paths//send/{code}/get/parameters/x-username@header/required = true",
		`example /paths//send/{code}/get/responses/200/content/application/json/example has shape {data:[` +
			`{data:string,message:string,object:string,recipient:string,sender:string},` +
			`{data:string,message:string,object:string,recipient:string,sender:string},` +
			`{data:string,message:string,object:string,recipient:string,sender:string}],message:string,success:boolean}`,
	} {
		if !base[want] {
			t.Errorf("the facts lack %q", want)
		}
	}
	if diff := disagreements(base, contractFacts(t, spec)); len(diff) != 0 {
		t.Fatalf("a file disagrees with itself: %v", diff)
	}
	// Through a decode and re-encode the JSON is the same description: no disagreement.
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	reencoded, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := disagreements(base, contractFacts(t, reencoded)); len(diff) != 0 {
		t.Fatalf("re-encoding changed the facts: %v", diff)
	}
	sendCode := func(d map[string]any) map[string]any {
		return d["paths"].(map[string]any)["/send/{code}"].(map[string]any)
	}
	example := func(d map[string]any) map[string]any {
		get := sendCode(d)["get"].(map[string]any)
		return get["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["example"].(map[string]any)
	}
	tests := []struct {
		name   string
		mutate func(map[string]any)
	}{
		{"a path removed", func(d map[string]any) { delete(d["paths"].(map[string]any), "/quota/{mailbox}") }},
		{"a method removed", func(d map[string]any) { delete(sendCode(d), "delete") }},
		{"a status code removed", func(d map[string]any) {
			delete(sendCode(d)["get"].(map[string]any)["responses"].(map[string]any), "404")
		}},
		{"a parameter no longer required", func(d map[string]any) {
			sendCode(d)["get"].(map[string]any)["parameters"].([]any)[0].(map[string]any)["required"] = false
		}},
		{"an example's field of another type", func(d map[string]any) { example(d)["success"] = "true" }},
		{"an example's field renamed", func(d map[string]any) {
			e := example(d)["data"].([]any)[2].(map[string]any)
			e["date"] = e["data"]
			delete(e, "data")
		}},
		{"an example's entry removed", func(d map[string]any) {
			e := example(d)
			e["data"] = e["data"].([]any)[:2]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(spec, &d); err != nil {
				t.Fatal(err)
			}
			tt.mutate(d)
			changed, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if diff := disagreements(base, contractFacts(t, changed)); len(diff) == 0 {
				t.Errorf("the change went unseen")
			}
		})
	}
	t.Run("a required field added to a schema", func(t *testing.T) {
		var d map[string]any
		if err := json.Unmarshal(spec, &d); err != nil {
			t.Fatal(err)
		}
		schemas := d["components"].(map[string]any)["schemas"].(map[string]any)
		for _, s := range schemas {
			s.(map[string]any)["required"] = []any{"extra"}
			break
		}
		changed, _ := json.Marshal(d)
		if diff := disagreements(base, contractFacts(t, changed)); len(diff) == 0 {
			t.Errorf("the change went unseen")
		}
	})
}
