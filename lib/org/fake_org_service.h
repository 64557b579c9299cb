#pragma once

// Test double: an OrgService over a FakeOrgView. A token's subject
// ("people/{id}" or a bare id) is the person when the view knows them;
// `down` makes every fresh check UNAVAILABLE, as when the people service
// cannot answer.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/auth/principal.h"
#include "lib/org/fake_org.h"
#include "lib/org/org.h"
#include "lib/status/status.h"

namespace sightline::org {

class FakeOrgService : public OrgService {
 public:
  FakeOrgService() { AddSmallCompany(&view_); }
  FakeOrgView& view() { return view_; }

  std::optional<PersonInfo> Person(const std::string& id) const override {
    return view_.Person(id);
  }
  std::optional<TeamInfo> Team(const std::string& id) const override {
    return view_.Team(id);
  }
  absl::StatusOr<Caller> ResolveCaller(const auth::Principal& p,
                                       bool) override {
    std::string id = p.subject;
    if (absl::StartsWith(id, "people/")) id = id.substr(7);
    Caller c{"", p.HasRole(auth::Role::kHrAdmin), p.IsService()};
    if (view_.Person(id)) c.person_id = id;
    return c;
  }
  absl::Status ValidatePeople(const std::vector<std::string>& ids,
                              const std::vector<std::string>& fields) override {
    if (down) return absl::UnavailableError("people service down");
    for (size_t i = 0; i < ids.size(); ++i) {
      auto p = view_.Person(ids[i]);
      if (!p || !p->active) {
        return status::InvalidField(fields[i], "no such active person");
      }
    }
    return absl::OkStatus();
  }
  absl::Status ValidateTeam(const std::string& id,
                            const std::string& field) override {
    if (down) return absl::UnavailableError("people service down");
    if (!view_.Team(id)) return status::InvalidField(field, "no such team");
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> FreshManagementChain(
      const std::string& id) override {
    if (down) return absl::UnavailableError("people service down");
    return ManagementChain(view_, id);
  }
  std::vector<std::string> TeamMembers(const std::string& team) const override {
    auto it = team_members.find(team);
    if (it == team_members.end()) return {};
    return it->second;
  }
  std::vector<std::string> Reports(const std::string&, bool) const override {
    return {};
  }

  bool down = false;
  // TeamMembers answers from here (by team id); empty by default.
  std::map<std::string, std::vector<std::string>> team_members;

 private:
  FakeOrgView view_;
};

}  // namespace sightline::org
