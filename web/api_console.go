package web

import (
	"snowlight/web/console"
)

// consoleRoutes serve the console's page and assets. They are public: they hold no data, and every
// call the console makes goes through the API's policies.
func consoleRoutes(h *console.Handler) []Route {
	return []Route{
		{Pattern: "GET /{$}", Name: "console.page", Policy: Policy{Public: true}, Handler: h},
		{Pattern: "GET /assets/{file...}", Name: "console.asset", Policy: Policy{Public: true}, Handler: h},
	}
}
