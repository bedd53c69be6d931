package auth

import (
	"strings"
)

// Role is what a user is for. Each route's policy names the roles it admits; nothing is granted by default.
type Role string

const (
	// Admin manages users and configuration and may use every operational route.
	Admin Role = "admin"
	// Operator watches cameras and works alerts in the command center, limited to the cameras and areas
	// in the user's scope.
	Operator Role = "operator"
	// Investigator runs identity-revealing queries (trajectories, searches), each with a case number and
	// a reason that go into the audit log.
	Investigator Role = "investigator"
	// Patrol is a unit in the street: it sees and acknowledges the alerts dispatched to it.
	Patrol Role = "patrol"
	// Guardian is a family member or carer of an at-risk person: they see only that person's alerts.
	Guardian Role = "guardian"
	// Auditor reads the audit log and nothing else.
	Auditor Role = "auditor"
)

// Roles lists every role, in the order the product documents them.
func Roles() []Role {
	return []Role{Admin, Operator, Investigator, Patrol, Guardian, Auditor}
}

// ParseRole accepts a role name as written in configuration or on the command line.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Roles() {
		if r == k {
			return r, nil
		}
	}
	names := make([]string, 0, len(Roles()))
	for _, k := range Roles() {
		names = append(names, string(k))
	}
	return "", invalidf("unknown role %q: use one of %s", s, strings.Join(names, ", "))
}
