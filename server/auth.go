package server

import (
	"net"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/rs/zerolog"
)

// authServer wraps go-mysql-server's account checks so that a refused login
// says nothing about which accounts exist. Left alone, an unknown user gets
// 2012 "No authentication methods available" (no method claims the name)
// while a known one with a wrong password gets 1045: a list of valid names
// for the asking. Here an unknown user goes through the same password
// exchange as a known one, and every refusal is MySQL's 1045 in one form.
type authServer struct {
	inner   mysql.AuthServer
	methods []mysql.AuthMethod
}

func newAuthServer(inner mysql.AuthServer, log zerolog.Logger) *authServer {
	a := &authServer{inner: inner}
	all := inner.AuthMethods()
	for i, m := range all {
		a.methods = append(a.methods, &authMethod{AuthMethod: m, fallback: i == 0, all: all, log: log})
	}
	return a
}

func (a *authServer) AuthMethods() []mysql.AuthMethod { return a.methods }

func (a *authServer) DefaultAuthMethodDescription() mysql.AuthMethodDescription {
	return a.inner.DefaultAuthMethodDescription()
}

type authMethod struct {
	mysql.AuthMethod
	// fallback: the method that takes users no method claims (the first,
	// the one vitess offers when the client's choice does not fit).
	fallback bool
	all      []mysql.AuthMethod
	log      zerolog.Logger
}

func (m *authMethod) HandleUser(c *mysql.Conn, user string) bool {
	if m.AuthMethod.HandleUser(c, user) {
		return true
	}
	if !m.fallback {
		return false
	}
	for _, o := range m.all {
		if o.HandleUser(c, user) {
			return false // another method takes this user
		}
	}
	// No account matches: run the exchange anyway; the storage finds no
	// user and the login fails like a wrong password.
	return true
}

func (m *authMethod) HandleAuthPluginData(c *mysql.Conn, user string, serverData, clientData []byte, addr net.Addr) (mysql.Getter, error) {
	g, err := m.AuthMethod.HandleAuthPluginData(c, user, serverData, clientData, addr)
	if err != nil || g == nil {
		host := clientHost(addr)
		m.log.Info().Str("user", user).Str("host", host).AnErr("reason", err).Msg("login refused")
		return nil, accessDenied(user, host, passwordGiven(clientData))
	}
	if cc := clientConnOf(c.Conn); cc != nil {
		if err := cc.login(); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// accessDenied is MySQL's answer to every refused login.
func accessDenied(user, host string, password bool) *mysql.SQLError {
	using := "NO"
	if password {
		using = "YES"
	}
	return mysql.NewSQLError(mysql.ERAccessDeniedError, mysql.SSAccessDeniedError,
		"Access denied for user '%s'@'%s' (using password: %s)", user, host, using)
}

// passwordGiven reports whether the client sent a password: a scramble for
// the hashing methods, a zero-terminated string for clear text.
func passwordGiven(data []byte) bool {
	return len(data) > 1 || len(data) == 1 && data[0] != 0
}

// clientHost is the client's host as accounts name it.
func clientHost(addr net.Addr) string {
	if addr == nil || addr.Network() == "unix" {
		return "localhost"
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
