package listen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// Listener says where to accept resolver connections.
type Listener struct {
	// Network is "unix", "tcp", "tls" or "systemd".
	Network string
	// Addr is the socket path, the host:port, or the systemd socket's
	// name (FileDescriptorName=) or index.
	Addr string
	// Mode and Group set a unix socket's permissions, so that the
	// resolver's user can connect (Group "" leaves the group as it is).
	Mode  os.FileMode
	Group string
	// TLS configures a "tls" listener.
	TLS *tls.Config
	// file is the inherited socket of a "systemd" listener.
	file *os.File
}

func (l Listener) String() string { return l.Network + ":" + l.Addr }

// Listen opens the listener.
func (l Listener) Listen() (net.Listener, error) {
	switch l.Network {
	case "unix":
		return listenUnix(l)
	case "tcp":
		return net.Listen("tcp", l.Addr)
	case "tls":
		if l.TLS == nil {
			return nil, fmt.Errorf("%s: no TLS configuration", l)
		}
		nl, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return nil, err
		}
		return tls.NewListener(nl, l.TLS), nil
	case "systemd":
		nl, err := net.FileListener(l.file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l, err)
		}
		l.file.Close() // FileListener made its own copy
		return nl, nil
	}
	return nil, fmt.Errorf("unknown network %q", l.Network)
}

// listenUnix binds a unix socket, first removing a stale socket file left
// by a process that died, but never one that a live process serves.
func listenUnix(l Listener) (net.Listener, error) {
	if fi, err := os.Lstat(l.Addr); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", l.Addr)
		}
		c, err := net.Dial("unix", l.Addr)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another process is listening on it", l.Addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%s: cannot tell whether the socket is stale: %w", l.Addr, err)
		}
		if err := os.Remove(l.Addr); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	// The socket is created with the final mode, not chmodded later, so
	// that it is never open wider than asked, even for a moment.
	mode := l.Mode
	if mode == 0 {
		mode = 0o660
	}
	old := syscall.Umask(0o777 &^ int(mode.Perm()))
	nl, err := net.Listen("unix", l.Addr)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(l.Addr, mode.Perm()); err != nil {
		nl.Close()
		return nil, err
	}
	if l.Group != "" {
		gid, err := lookupGroup(l.Group)
		if err == nil {
			err = os.Chown(l.Addr, -1, gid)
		}
		if err != nil {
			nl.Close()
			return nil, fmt.Errorf("%s: group %s: %w", l.Addr, l.Group, err)
		}
	}
	return nl, nil
}

func lookupGroup(name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil {
		return id, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

// Systemd returns the sockets systemd passed to this process (socket
// activation: LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), and unsets those
// variables so that children do not take them too. It returns none when
// the process was not socket-activated.
func Systemd() ([]Listener, error) {
	pid, fds := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS")
	if fds == "" {
		return nil, nil
	}
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	if pid != strconv.Itoa(os.Getpid()) {
		return nil, nil // meant for another process
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("LISTEN_FDS=%q is not a count", fds)
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	var ls []Listener
	for i := range n {
		fd := 3 + i // SD_LISTEN_FDS_START
		syscall.CloseOnExec(fd)
		name := strconv.Itoa(i)
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		ls = append(ls, Listener{Network: "systemd", Addr: name, file: os.NewFile(uintptr(fd), name)})
	}
	return ls, nil
}
