// A real OpenID provider for the console's sign-in tests: the zitadel/oidc library's example OP
// (its in-memory storage, test users and username/password login form) with the console
// registered as a public client — authorization code + PKCE, no secret — whose loopback redirect
// matches any port (RFC 8252 §7.3), because the service under test listens on an OS-chosen port.
//
// Two departures from the example, each what a production provider offers and the example lacks:
//   - the console's access tokens are JWTs (the example's native clients get opaque ones), carrying
//     preferred_username and groups, so the service can validate them against the JWKS;
//   - GET /login/deny?id=<authRequestID> answers the pending request with error=access_denied,
//     the "Cancel" a real login page has.
//
// Usage: oidc-provider [-port 0] [-client lakehouse-console]; prints "oidc provider listening on <issuer>".
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// jwtClient makes a registered client's access tokens JWTs.
type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

type consoleStorage struct {
	*storage.Storage
	users    storage.UserStore
	clientID string
}

func (s *consoleStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || id != s.clientID {
		return c, err
	}
	return jwtClient{c}, nil
}

// The access token names its user the way the service's principal and roles claims read it.
func (s *consoleStorage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	claims, err := s.Storage.GetPrivateClaimsFromScopes(ctx, userID, clientID, scopes)
	if err != nil {
		return nil, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	if u := s.users.GetUserByID(userID); u != nil {
		claims["preferred_username"] = u.Username
		groups := []string{"users"}
		if u.IsAdmin {
			groups = append(groups, "admins")
		}
		claims["groups"] = groups
	}
	return claims, nil
}

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any free port)")
	clientID := flag.String("client", "lakehouse-console", "the console's public client id")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		logger.Error("cannot listen", "error", err)
		os.Exit(1)
	}
	issuer := fmt.Sprintf("http://127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)

	storage.RegisterClients(storage.NativeClient(*clientID, "http://127.0.0.1/", "http://localhost/"))
	users := storage.NewUserStore(issuer + "/")
	store := &consoleStorage{Storage: storage.NewStorage(users), users: users, clientID: *clientID}
	router := exampleop.SetupServer(issuer, store, logger, false)

	// Mounted ahead of the example's router so /login/deny is ours and the rest is the example's.
	root := chi.NewRouter()
	root.Get("/login/deny", func(w http.ResponseWriter, r *http.Request) {
		req, err := store.AuthRequestByID(r.Context(), r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, "unknown auth request", http.StatusBadRequest)
			return
		}
		q := url.Values{"error": {"access_denied"}, "error_description": {"The user cancelled the sign-in"}, "state": {req.GetState()}}
		sep := "?"
		if strings.Contains(req.GetRedirectURI(), "?") {
			sep = "&"
		}
		http.Redirect(w, r, req.GetRedirectURI()+sep+q.Encode(), http.StatusFound)
	})
	root.Mount("/", router)

	fmt.Printf("oidc provider listening on %s\n", issuer)
	if err := http.Serve(ln, root); err != nil {
		logger.Error("server terminated", "error", err)
		os.Exit(1)
	}
}
