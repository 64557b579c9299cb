# Shared by the example scripts: sourced after PEOPLE, SECRET and BUILD are
# set. token EMAIL [ROLES], field NAME (from the CLI's JSON), person EMAIL.
CLI="$BUILD/tools/cli/sightline"

token() { "$CLI" token --key_file="$SECRET" --subject="$1" ${2:+--roles=$2}; }
field() { sed -n "s/^ *\"$1\": \"\\([^\"]*\\)\".*/\\1/p" | head -1; }
person() {
  SIGHTLINE_TOKEN=$(token "$1") "$CLI" call "$PEOPLE" \
    sightline.people.v1.PeopleService/LookupPerson "{\"email\":\"$1\"}" | field name
}
