package template

import (
	htemplate "html/template"
	ttemplate "text/template"
	"text/template/parse"
)

// fieldRef is a column referenced by a template and the line of its first use.
type fieldRef struct {
	name string
	line int
}

func lookupText(t *ttemplate.Template) func(string) *parse.Tree {
	return func(name string) *parse.Tree {
		if x := t.Lookup(name); x != nil {
			return x.Tree
		}
		return nil
	}
}

func lookupHTML(t *htemplate.Template) func(string) *parse.Tree {
	return func(name string) *parse.Tree {
		if x := t.Lookup(name); x != nil {
			return x.Tree
		}
		return nil
	}
}

// fieldWalker collects the columns referenced through the row itself. It
// tracks whether dot and $ are the row: inside {{with}} and {{range}} dot is
// something else, and a {{template}} invoked with anything but the row gets
// another $. Only references it is sure about are recorded, so preflight
// never reports a column that the template does not actually need.
type fieldWalker struct {
	lookup  func(string) *parse.Tree
	seen    map[string]bool
	visited map[string]bool // templates already walked with the row as dot
	refs    []fieldRef
}

func collectFields(root *parse.Tree, lookup func(string) *parse.Tree) []fieldRef {
	if root == nil || root.Root == nil {
		return nil
	}
	w := &fieldWalker{lookup: lookup, seen: map[string]bool{}, visited: map[string]bool{root.Name: true}}
	w.walk(root.Root, true, true)
	return w.refs
}

func (w *fieldWalker) add(name string, n parse.Node) {
	if w.seen[name] {
		return
	}
	w.seen[name] = true
	loc, _ := (*parse.Tree)(nil).ErrorContext(n)
	line, _ := locationLine(loc)
	w.refs = append(w.refs, fieldRef{name: name, line: line})
}

func (w *fieldWalker) walk(n parse.Node, dotRow, dollarRow bool) {
	switch n := n.(type) {
	case nil:
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			w.walk(c, dotRow, dollarRow)
		}
	case *parse.ActionNode:
		w.walk(n.Pipe, dotRow, dollarRow)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			w.walk(c, dotRow, dollarRow)
		}
	case *parse.CommandNode:
		w.command(n, dotRow, dollarRow)
	case *parse.FieldNode:
		if dotRow {
			w.add(n.Ident[0], n)
		}
	case *parse.VariableNode:
		if dollarRow && len(n.Ident) > 1 && n.Ident[0] == "$" {
			w.add(n.Ident[1], n)
		}
	case *parse.ChainNode:
		w.walk(n.Node, dotRow, dollarRow)
	case *parse.IfNode:
		w.walk(n.Pipe, dotRow, dollarRow)
		w.walk(n.List, dotRow, dollarRow)
		w.walk(n.ElseList, dotRow, dollarRow)
	case *parse.WithNode:
		w.walk(n.Pipe, dotRow, dollarRow)
		w.walk(n.List, false, dollarRow)
		w.walk(n.ElseList, dotRow, dollarRow)
	case *parse.RangeNode:
		w.walk(n.Pipe, dotRow, dollarRow)
		w.walk(n.List, false, dollarRow)
		w.walk(n.ElseList, dotRow, dollarRow)
	case *parse.TemplateNode:
		w.walk(n.Pipe, dotRow, dollarRow)
		if w.isRow(n.Pipe, dotRow, dollarRow) && !w.visited[n.Name] {
			w.visited[n.Name] = true
			if t := w.lookup(n.Name); t != nil && t.Root != nil {
				w.walk(t.Root, true, true)
			}
		}
	}
}

// command records {{get . "x"}} and {{index . "x"}} before walking the
// arguments.
func (w *fieldWalker) command(n *parse.CommandNode, dotRow, dollarRow bool) {
	if len(n.Args) == 3 {
		if id, ok := n.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "get" || id.Ident == "index") {
			if s, ok := n.Args[2].(*parse.StringNode); ok && w.isRowArg(n.Args[1], dotRow, dollarRow) {
				w.add(s.Text, s)
			}
		}
	}
	for _, a := range n.Args {
		w.walk(a, dotRow, dollarRow)
	}
}

// isRow reports whether the pipeline is just the row: "." or "$".
func (w *fieldWalker) isRow(p *parse.PipeNode, dotRow, dollarRow bool) bool {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	return w.isRowArg(p.Cmds[0].Args[0], dotRow, dollarRow)
}

func (w *fieldWalker) isRowArg(a parse.Node, dotRow, dollarRow bool) bool {
	switch a := a.(type) {
	case *parse.DotNode:
		return dotRow
	case *parse.VariableNode:
		return dollarRow && len(a.Ident) == 1 && a.Ident[0] == "$"
	}
	return false
}
