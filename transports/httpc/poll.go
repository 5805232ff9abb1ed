package httpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Poll is how a device fetches its commands: GET Path every Every, or,
// with Wait, a long poll (GET Path?wait=Wait) again as soon as each
// returns.
type Poll struct {
	Path  string
	Every time.Duration
	Wait  time.Duration
}

// PollBody is a command poll's 200 body: the commands, oldest first.
type PollBody struct {
	Commands []string `json:"commands"`
}

// maxCommands bounds the commands one poll response may carry.
const maxCommands = 4096

// ParsePoll reads a command poll's 200 body.
func ParsePoll(body []byte) ([]string, error) {
	var p PollBody
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("httpc: command poll body: %w", err)
	}
	if len(p.Commands) > maxCommands {
		return nil, fmt.Errorf("httpc: command poll body: %d commands, at most %d", len(p.Commands), maxCommands)
	}
	return p.Commands, nil
}

// StartPolling polls for commands on a connection of the poller's own
// until the session ends, calling command with each (payload only valid
// during the call). A poll error response is counted and waited out; a
// connection failure loses the session. Call it at most once.
func (s *Session) StartPolling(p Poll, command func(payload []byte)) error {
	if p.Every <= 0 && p.Wait <= 0 {
		return errors.New("httpc: poll needs an interval or a wait")
	}
	target := p.Path
	if p.Wait > 0 {
		target += "?wait=" + url.QueryEscape(p.Wait.String())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.wg.Add(1)
	go s.poll(target, p, command)
	return nil
}

// poll is the poller's loop; it exits when the session ends.
func (s *Session) poll(target string, p Poll, command func([]byte)) {
	defer s.wg.Done()
	l := &lane{o: &s.o}
	defer l.close()
	r := &Request{Method: http.MethodGet, Target: target}
	for s.ctx.Err() == nil {
		resp, err := s.do(l, r, p.Wait)
		if s.ctx.Err() != nil {
			return
		}
		wait := p.Every
		switch {
		case err != nil && !isStatus(err):
			s.lose(err)
			return
		case err != nil:
			wait = max(wait, s.retryWait(resp))
		case resp.Status == http.StatusOK:
			s.deliver(resp.Body, command)
		}
		if wait > 0 && !s.sleep(wait) {
			return
		}
	}
}

// deliver hands each command of a poll body on; a body it cannot read
// goes to Options.BadPoll and is dropped.
func (s *Session) deliver(body []byte, command func([]byte)) {
	cmds, err := ParsePoll(body)
	if err != nil {
		s.o.BadPoll(err)
		return
	}
	for _, c := range cmds {
		command([]byte(c))
	}
}
