#pragma once

// Test double: an OrgView over maps, counting its lookups (so that tests can
// bound how far a walk goes).

#include <map>
#include <optional>
#include <string>

#include "lib/org/org.h"

namespace sightline::org {

class FakeOrgView : public OrgView {
 public:
  void AddPerson(const std::string& id, const std::string& team,
                 const std::string& manager, bool active = true) {
    people_[id] = PersonInfo{id, team, manager, active};
  }
  void AddTeam(const std::string& id, const std::string& parent,
               const std::string& lead) {
    teams_[id] = TeamInfo{id, parent, lead};
  }

  std::optional<PersonInfo> Person(const std::string& id) const override {
    ++lookups_;
    auto it = people_.find(id);
    if (it == people_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<TeamInfo> Team(const std::string& id) const override {
    ++lookups_;
    auto it = teams_.find(id);
    if (it == teams_.end()) return std::nullopt;
    return it->second;
  }

  int lookups() const { return lookups_; }

 private:
  std::map<std::string, PersonInfo> people_;
  std::map<std::string, TeamInfo> teams_;
  mutable int lookups_ = 0;
};

// A small company, the one the goals access tests also use:
//
//   teams                          people (manager)
//   company   lead ceo             ceo
//   ├ eng     lead vp_eng          vp_eng (ceo), vp_sales (ceo)
//   │ ├ platform  lead leo         mona (vp_eng)    manages owen, pat
//   │ │ └ storage lead stella      owen, pat, gone* (mona)   * inactive
//   │ └ orphans   no lead          stella (mona), sam (stella)
//   ├ arch    lead vic             leo (vic): leads platform from arch
//   ├ sales   lead vp_sales        vic (ceo)
//   │ └ emea  lead mel             mel (vp_sales), eve, cora (mel)
//   └ hr      lead hana            hana (ceo)
inline void AddSmallCompany(FakeOrgView* org) {
  org->AddTeam("company", "", "ceo");
  org->AddTeam("eng", "company", "vp_eng");
  org->AddTeam("platform", "eng", "leo");
  org->AddTeam("storage", "platform", "stella");
  org->AddTeam("orphans", "eng", "");
  org->AddTeam("arch", "company", "vic");
  org->AddTeam("sales", "company", "vp_sales");
  org->AddTeam("emea", "sales", "mel");
  org->AddTeam("hr", "company", "hana");

  org->AddPerson("ceo", "company", "");
  org->AddPerson("vp_eng", "eng", "ceo");
  org->AddPerson("vp_sales", "sales", "ceo");
  org->AddPerson("mona", "eng", "vp_eng");
  org->AddPerson("owen", "platform", "mona");
  org->AddPerson("pat", "platform", "mona");
  org->AddPerson("gone", "platform", "mona", /*active=*/false);
  org->AddPerson("stella", "storage", "mona");
  org->AddPerson("sam", "storage", "stella");
  org->AddPerson("vic", "arch", "ceo");
  org->AddPerson("leo", "arch", "vic");
  org->AddPerson("mel", "emea", "vp_sales");
  org->AddPerson("eve", "emea", "mel");
  org->AddPerson("cora", "emea", "mel");
  org->AddPerson("hana", "hr", "ceo");
}

}  // namespace sightline::org
