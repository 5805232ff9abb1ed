package main

const mainHelp = `m2msim simulates fleets of M2M/IoT devices against real brokers and
reports how the servers held up.

Usage:
  m2msim run FILE [flags]        run a scenario, write DIR/result.json and the reports
  m2msim report RESULT.json      re-render the reports; also: report compare, report merge
  m2msim validate FILE...        check scenarios without running them
  m2msim radios                  list the radio profiles, their numbers and sources
  m2msim version                 print the version and the revision it was built from
  m2msim help COMMAND            help for a command: every flag, with examples

Examples:
  m2msim run scenarios/examples/quickstart.yaml
  m2msim run capacity.yaml --out reports/nightly --seed 42
  m2msim validate scenarios/examples/*.yaml

Exit codes:
  0    passed
  1    a threshold failed
  2    bad input or usage (a scenario problem, a bad flag, an unreachable
       target, an --out that cannot be written)
  3    aborted: interrupted twice, the drain was cut short
  130  interrupted: the schedule stopped early, the drain ran
`

const runHelp = `Usage: m2msim run FILE [flags]

Runs the scenario in FILE: connects its devices to the target broker,
drives them on the schedule, and writes DIR/result.json, the reports
(report.html, junit.xml, summary.md, timeseries.csv) and a summary. DIR
must be writable: m2msim checks before it connects anything. While it
runs, a live view is served (its URL is printed at start).

Flags (--flag VALUE or --flag=VALUE, before or after FILE):
  --out DIR          where to write result.json [out/<scenario name>]
  --duration D       override the scenario's duration, e.g. 10s or 2m
  --seed N           override the scenario's seed (printed at start either way)
  --progress D       how often to print progress when stdout is not a
                     terminal [10s]; 0 turns it off
  --log-level L      debug, info, warn or error [warn]
  --web ADDR         where to serve the live view [127.0.0.1:0, a free
                     loopback port]; "off" for none. An address other
                     than loopback needs --web-token
  --web-token T      the token viewers must give (?token=T, or
                     Authorization: Bearer T); also from $M2MSIM_WEB_TOKEN,
                     which keeps it out of the process list
  --procs N          cores m2msim may run on [auto: as few as keep each
                     under 40 % busy, from 1 up to all (or $GOMAXPROCS),
                     growing within 0.1 s of a heavier load]; fewer cores
                     cost less CPU per message and leave the rest to a
                     server on the same machine

Sharding (one scenario over several processes or machines):
  --shard I/N        run shard I of N; I counts from 0 (0/4 ... 3/4)
  --shards N         run one of N shards, I from $JOB_COMPLETION_INDEX
                     (set in each pod of a Kubernetes Indexed Job)
  --start-at TIME    prepare (scenario, target, --out), then wait until
                     TIME (RFC 3339, e.g. 2026-11-30T04:00:00Z) to start
                     the schedule; also $M2MSIM_START_AT. At most 24h
                     ahead; a shard past TIME starts at once and says so
  Each group is cut into N contiguous device ranges; the shards' schedules
  together are exactly the one-process schedule. Merge their results with
  m2msim report merge (see: m2msim help report).

Development aids (for profiling m2msim itself, not the broker):
  --cpuprofile FILE  write a CPU profile of the whole run to FILE
  --memprofile FILE  write a heap profile to FILE at the end of the run
                     (inspect either with: go tool pprof FILE)

Interrupts: Ctrl-C (or SIGTERM) stops the schedule, waits up to the
scenario's drain for messages in flight, and writes the result with
status "interrupted" (exit 130). A second Ctrl-C cuts the drain short:
the result is written with status "aborted", messages still in flight
count as unfinished (exit 3). A third exits at once without a result.

Examples:
  m2msim run scenarios/examples/quickstart.yaml
  m2msim run scenarios/examples/quickstart.yaml --duration 10s --seed 7
  MQTT_PASSWORD=secret m2msim run staging.yaml --out /tmp/staging
  m2msim run big.yaml --cpuprofile cpu.pprof --memprofile mem.pprof

Exit codes: 0 passed, 1 a threshold failed, 2 bad input or usage (also:
the target cannot be reached, or --out cannot be written), 3 aborted,
130 interrupted.
`

const versionHelp = `Usage: m2msim version

Prints the module version m2msim was built as, the git revision, its
commit time and whether the tree had uncommitted changes, and the Go
version. A build that records no revision (go run, -buildvcs=false, a git
worktree) says "revision unknown".
`

const radiosHelp = `Usage: m2msim radios

Prints every radio profile m2msim knows (NB-IoT, LTE-M, LoRaWAN SF7-SF12,
Sigfox, satellite...) with its link numbers: median and p95 one-way delay,
loss, uplink and downlink rate, maximum payload, airtime of a 20-byte
message, regulatory limits, and the sources the numbers come from.
`

const validateHelp = `Usage: m2msim validate [--print] FILE...

Checks each scenario (syntax, unknown fields, types, ranges, templates,
thresholds) without running it, and prints every problem as
file:line:col: path: message.

Flags:
  --print   print each valid scenario as JSON, normalised: every key with
            the value the run will use, defaults filled in

Examples:
  m2msim validate scenarios/examples/*.yaml
  m2msim validate --print scenarios/examples/lorawan-sensors.yaml

Exit codes: 0 all valid, 2 a problem was found.
`
