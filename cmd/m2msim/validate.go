package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/m2msim/m2msim/scenarios"
	"github.com/m2msim/m2msim/transports/radio"
)

func validateCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	print := fs.Bool("print", false, "")
	files, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, validateHelp)
		return nil
	}
	if err != nil {
		return usageErr("validate: %v", err)
	}
	if len(files) == 0 {
		return usageErr("validate: want one or more scenario files (see: m2msim help validate)")
	}
	bad := 0
	for _, file := range files {
		sc, err := scenarios.Load(file)
		if err != nil {
			bad++
			fmt.Fprintln(stderr, err)
			continue
		}
		if *print {
			b, err := json.MarshalIndent(sc, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%s: %d devices in %d group(s), %s)\n", file, sc.Name, sc.Devices(), len(sc.Groups), sc.Plan().Duration)
	}
	if bad > 0 {
		return usageErr("%d of %d scenario(s) have problems", bad, len(files))
	}
	return nil
}

func radiosCmd(args []string, stdout io.Writer) error {
	pos, err := parseFlags(flag.NewFlagSet("radios", flag.ContinueOnError), args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, radiosHelp)
		return nil
	case err != nil:
		return usageErr("radios: %v", err)
	case len(pos) > 0:
		return usageErr("radios takes no arguments (see: m2msim help radios)")
	}
	return radio.WriteTable(stdout)
}
