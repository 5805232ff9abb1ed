package mqtt

import "strings"

// match reports whether topic matches the MQTT topic filter filter, with
// "+" matching one level and a trailing "#" the rest (including the parent
// level itself). Filters starting with a wildcard do not match topics
// starting with "$" [MQTT-4.7.2-1].
func match(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" && !fmore {
			return true
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fmore || !tmore {
			// Out of levels on one side: a match only if both ended, or
			// the filter's remaining level is a "#" ("a/#" matches "a").
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}
