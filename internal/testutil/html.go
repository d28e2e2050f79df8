package testutil

import (
	"strings"

	"golang.org/x/net/html"
)

// Attr returns the value of an element's attribute key, "" when n is not an
// element or has no such attribute.
func Attr(n *html.Node, key string) string {
	if n.Type != html.ElementNode {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Walk calls f on n and on every node below it, in document order.
func Walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := range n.Descendants() {
		f(c)
	}
}

// FindElement returns the first element at or below n that match accepts,
// nil if none does.
func FindElement(n *html.Node, match func(*html.Node) bool) *html.Node {
	if n.Type == html.ElementNode && match(n) {
		return n
	}
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			return c
		}
	}
	return nil
}

// NodeText returns the text of every text node at or below n, joined.
func NodeText(n *html.Node) string {
	var b strings.Builder
	Walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}
