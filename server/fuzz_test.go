package server_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// packet frames a MySQL protocol payload: 3-byte length, sequence number.
func packet(seq byte, payload []byte) []byte {
	h := make([]byte, 4, 4+len(payload))
	h[0], h[1], h[2], h[3] = byte(len(payload)), byte(len(payload)>>8), byte(len(payload)>>16), seq
	return append(h, payload...)
}

// handshakeResponse is a protocol-41 login of root without a password.
func handshakeResponse() []byte {
	const caps = 0x00000200 | 0x00008000 | 0x00080000 | 0x00000008 // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, CONNECT_WITH_DB
	p := binary.LittleEndian.AppendUint32(nil, caps)
	p = binary.LittleEndian.AppendUint32(p, 1<<24)
	p = append(p, 45)                  // utf8mb4
	p = append(p, make([]byte, 23)...) // filler
	p = append(p, "root\x00"...)
	p = append(p, 0) // no auth data
	p = append(p, "main\x00"...)
	p = append(p, "mysql_native_password\x00"...)
	return packet(1, p)
}

// FuzzClientPackets: whatever a client sends in place of its login and
// commands, the server answers it or closes that connection, and keeps
// serving other clients with their data intact.
func FuzzClientPackets(f *testing.F) {
	ts := startServer(f, serverOpts{})
	db := ts.open("root", "", "")
	mustExec(f, db, "CREATE TABLE kept (id INT PRIMARY KEY, s TEXT)")
	mustExec(f, db, "INSERT INTO kept VALUES (1, 'still here')")

	login := handshakeResponse()
	query := func(q string) []byte { return packet(0, append([]byte{0x03}, q...)) }
	f.Add([]byte{})
	f.Add(login)
	f.Add(append(append([]byte{}, login...), query("SELECT PREDICT('nope', 'x')")...))
	f.Add(append(append([]byte{}, login...), query("DELETE FROM kept")[:9]...))                      // cut mid-packet
	f.Add(append(append([]byte{}, login...), packet(0, []byte{0x16, 'S', 'E', 'L'})...))             // COM_STMT_PREPARE
	f.Add(append(append([]byte{}, login...), packet(0, []byte{0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0})...)) // EXECUTE of no statement
	f.Add([]byte{0xff, 0xff, 0xff, 0x00, 0x03})                                                      // a 16 MB length, then nothing
	f.Add(packet(1, []byte{0, 0, 0, 0}))

	addr := ts.srv.Addr().String()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Millisecond))
		var greeting [4096]byte
		if _, err := c.Read(greeting[:]); err != nil {
			t.Fatalf("no greeting: %v", err)
		}
		c.Write(data)
		io.Copy(io.Discard, c) // answers, until the server closes or the deadline passes
		var s string
		if err := db.QueryRow("SELECT s FROM kept WHERE id = 1").Scan(&s); err != nil || s != "still here" {
			t.Fatalf("after %q: %q, %v", data, s, err)
		}
	})
}
