#include "services/metrics/sql_repository.h"

#include <soci/soci.h>

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "lib/status/status.h"
#include "services/metrics/metrics_store.pb.h"

namespace sightline::metrics {
namespace {

// ---- records

store::KpiRecord RecordOf(const Kpi& k) {
  store::KpiRecord r;
  r.set_id(k.id);
  r.set_display_name(k.display_name);
  r.set_description(k.description);
  r.set_owner_person_id(k.owner_person_id);
  r.set_owner_team_id(k.owner_team_id);
  r.set_format(static_cast<int>(k.format));
  r.set_currency_code(k.currency_code);
  r.set_unit(k.unit);
  r.set_direction(static_cast<int>(k.direction));
  r.set_band_low(k.band_low);
  r.set_band_high(k.band_high);
  r.set_aggregation(static_cast<int>(k.aggregation));
  r.set_period(static_cast<int>(k.period));
  r.set_cadence(k.cadence);
  r.set_perspective(static_cast<int>(k.perspective));
  r.set_visibility(static_cast<int>(k.visibility));
  for (const auto& d : k.dimension_keys) r.add_dimension_keys(d);
  r.set_formula(k.formula);
  r.set_prom_query(k.prom_query);
  for (const auto& t : k.targets) {
    auto* o = r.add_targets();
    o->set_start(t.start);
    o->set_end(t.end);
    o->set_value(t.value);
    if (t.amber) o->set_amber(*t.amber);
    if (t.red) o->set_red(*t.red);
  }
  r.set_exported(k.exported);
  r.set_revision(k.revision);
  r.set_create_time(k.create_time);
  r.set_update_time(k.update_time);
  return r;
}

Kpi KpiOf(const store::KpiRecord& r) {
  Kpi k;
  k.id = r.id();
  k.display_name = r.display_name();
  k.description = r.description();
  k.owner_person_id = r.owner_person_id();
  k.owner_team_id = r.owner_team_id();
  k.format = static_cast<Format>(r.format());
  k.currency_code = r.currency_code();
  k.unit = r.unit();
  k.direction = static_cast<Direction>(r.direction());
  k.band_low = r.band_low();
  k.band_high = r.band_high();
  k.aggregation = static_cast<Aggregation>(r.aggregation());
  k.period = static_cast<Period>(r.period());
  k.cadence = r.cadence();
  k.perspective = static_cast<Perspective>(r.perspective());
  k.visibility = static_cast<Visibility>(r.visibility());
  k.dimension_keys.assign(r.dimension_keys().begin(), r.dimension_keys().end());
  k.formula = r.formula();
  k.prom_query = r.prom_query();
  for (const auto& t : r.targets()) {
    Target o{t.start(), t.end(), t.value(), std::nullopt, std::nullopt};
    if (t.has_amber()) o.amber = t.amber();
    if (t.has_red()) o.red = t.red();
    k.targets.push_back(o);
  }
  k.exported = r.exported();
  k.revision = r.revision();
  k.create_time = r.create_time();
  k.update_time = r.update_time();
  return k;
}

std::string Encode(const Kpi& k) {
  return absl::Base64Escape(RecordOf(k).SerializeAsString());
}

absl::StatusOr<Kpi> Decode(const std::string& data) {
  std::string bytes;
  store::KpiRecord r;
  if (!absl::Base64Unescape(data, &bytes) || !r.ParseFromString(bytes)) {
    return absl::DataLossError("stored KPI does not decode");
  }
  return KpiOf(r);
}

int64_t HourOf(int64_t t) {
  int64_t h = t / kMicrosPerHour;
  if (t % kMicrosPerHour != 0 && t < 0) --h;
  return h * kMicrosPerHour;
}

std::string KeyOf(const std::string& dim) {
  return std::string(dim.substr(0, dim.find('=')));
}

// The group a point's dimension belongs to under `group_by` ("" when none);
// nullopt when the point is outside the query's filter.
std::optional<std::string> GroupOf(const PointQuery& q,
                                   const std::string& dim) {
  if (!q.dimension.empty() && dim != q.dimension) return std::nullopt;
  if (q.group_by.empty()) return std::string();
  if (KeyOf(dim) != q.group_by) return std::nullopt;
  return dim;
}

class SqlRepository : public KpiRepository {
 public:
  explicit SqlRepository(storage::Database* db) : db_(db) {}

  absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const Idempotency& idem) override {
    return storage::FindIdempotent(*db_, "metrics.idempotency", idem);
  }

  absl::StatusOr<Kpi> GetKpi(const std::string& id) override {
    std::string data;
    soci::indicator ind = soci::i_null;
    auto st = db_->Read("metrics.kpi_get", [&](soci::session& sql) {
      sql << "SELECT data FROM kpis WHERE id = :id", soci::use(id),
          soci::into(data, ind);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    if (ind != soci::i_ok) {
      return absl::NotFoundError(absl::StrCat("kpis/", id, " not found"));
    }
    return Decode(data);
  }

  absl::StatusOr<std::vector<Kpi>> ListKpis(const KpiQuery& q,
                                            const Page& page) override {
    std::vector<Kpi> out;
    auto st = db_->Read("metrics.kpi_list", [&](soci::session& sql) {
      std::string sql_text =
          "SELECT data FROM kpis WHERE id > :after AND (:person = '' OR "
          "owner_person = :person2) AND (:team = '' OR owner_team = :team2) "
          "AND (:persp = 0 OR perspective = :persp2) ORDER BY id LIMIT :lim";
      std::string data;
      std::string after = page.after;
      long long limit = page.limit, persp = q.perspective;
      soci::statement stmt =
          (sql.prepare << sql_text, soci::into(data), soci::use(after),
           soci::use(q.owner_person_id), soci::use(q.owner_person_id),
           soci::use(q.owner_team_id), soci::use(q.owner_team_id),
           soci::use(persp), soci::use(persp), soci::use(limit));
      stmt.execute();
      while (stmt.fetch()) {
        auto k = Decode(data);
        if (!k.ok()) return k.status();
        out.push_back(std::move(*k));
      }
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::StatusOr<std::vector<Kpi>> KpisOwnedBy(
      const std::vector<std::string>& person_ids,
      const std::string& team_id) override {
    // Owners go in chunks of bound parameters (SQLite allows 32766, and a
    // statement this size stays cheap to prepare).
    constexpr size_t kChunk = 500;
    std::vector<Kpi> out;
    size_t from = 0;
    bool team_done = team_id.empty();
    while (from < person_ids.size() || !team_done) {
      const size_t to = std::min(person_ids.size(), from + kChunk);
      // A team's KPI has '' as its owner person: never match that.
      std::vector<std::string> terms;
      if (to > from) {
        std::string in = "owner_person IN (";
        for (size_t i = from; i < to; ++i) {
          absl::StrAppend(&in, i == from ? "" : ", ", ":p", i);
        }
        terms.push_back(absl::StrCat(in, ")"));
      }
      if (!team_done) terms.push_back("owner_team = :team");
      const std::string text = absl::StrCat("SELECT data FROM kpis WHERE ",
                                            absl::StrJoin(terms, " OR "));
      auto st = db_->Read("metrics.kpi_owned", [&](soci::session& sql) {
        std::string data;
        soci::statement stmt(sql);
        stmt.exchange(soci::into(data));
        for (size_t i = from; i < to; ++i) {
          stmt.exchange(soci::use(person_ids[i]));
        }
        if (!team_done) stmt.exchange(soci::use(team_id));
        stmt.alloc();
        stmt.prepare(text);
        stmt.define_and_bind();
        stmt.execute(false);
        while (stmt.fetch()) {
          auto k = Decode(data);
          if (!k.ok()) return k.status();
          out.push_back(std::move(*k));
        }
        return absl::OkStatus();
      });
      if (!st.ok()) return st;
      team_done = true;
      from = to;
    }
    std::sort(out.begin(), out.end(),
              [](const Kpi& a, const Kpi& b) { return a.id < b.id; });
    return out;
  }

  absl::StatusOr<std::vector<Kpi>> AllKpis() override {
    std::vector<Kpi> out;
    auto st = db_->Read("metrics.kpi_all", [&](soci::session& sql) {
      std::string data;
      soci::statement stmt =
          (sql.prepare << "SELECT data FROM kpis ORDER BY id",
           soci::into(data));
      stmt.execute();
      while (stmt.fetch()) {
        auto k = Decode(data);
        if (!k.ok()) return k.status();
        out.push_back(std::move(*k));
      }
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::StatusOr<std::string> InsertKpi(const Kpi& kpi,
                                        const Idempotency& idem) override {
    std::string answer = kpi.id;
    auto st = db_->Write("metrics.kpi_create", [&](storage::Tx& tx) {
      answer = kpi.id;
      if (!idem.request_id.empty()) {
        auto prior = storage::LookupIdempotent(
            tx.sql(), idem.scope, idem.request_id, idem.fingerprint);
        if (!prior.ok()) return prior.status();
        if (prior->has_value()) {
          answer = **prior;
          return absl::OkStatus();
        }
      }
      int n = 0;
      tx.sql() << "SELECT COUNT(*) FROM kpis WHERE id = :id", soci::use(kpi.id),
          soci::into(n);
      if (n > 0) {
        return absl::AlreadyExistsError(
            absl::StrCat("kpis/", kpi.id, " already exists"));
      }
      std::string data = Encode(kpi);
      long long persp = static_cast<int>(kpi.perspective);
      long long rev = kpi.revision;
      tx.sql() << "INSERT INTO kpis (id, owner_person, owner_team, "
                  "perspective, revision, data) VALUES (:id, :p, :t, :s, :r, "
                  ":d)",
          soci::use(kpi.id), soci::use(kpi.owner_person_id),
          soci::use(kpi.owner_team_id), soci::use(persp), soci::use(rev),
          soci::use(data);
      tx.Emit({kKpiEntity, absl::StrCat("kpis/", kpi.id), kCreated,
               RecordOf(kpi).SerializeAsString(), kpi.id});
      if (idem.request_id.empty()) return absl::OkStatus();
      return storage::RecordIdempotent(tx, idem.scope, idem.request_id,
                                       idem.fingerprint, kpi.id);
    });
    if (!st.ok()) return st;
    return answer;
  }

  absl::Status UpdateKpi(const Kpi& kpi, int64_t expected) override {
    return db_->Write("metrics.kpi_update", [&](storage::Tx& tx) {
      std::string data = Encode(kpi);
      long long persp = static_cast<int>(kpi.perspective);
      long long rev = kpi.revision, exp = expected;
      soci::statement stmt =
          (tx.sql().prepare
               << "UPDATE kpis SET owner_person = :p, owner_team = :t, "
                  "perspective = :s, revision = :r, data = :d WHERE id = :id "
                  "AND revision = :e",
           soci::use(kpi.owner_person_id), soci::use(kpi.owner_team_id),
           soci::use(persp), soci::use(rev), soci::use(data), soci::use(kpi.id),
           soci::use(exp));
      stmt.execute(true);
      if (stmt.get_affected_rows() != 1) {
        return absl::AbortedError(
            absl::StrCat("kpis/", kpi.id, " changed meanwhile; read it again"));
      }
      tx.Emit({kKpiEntity, absl::StrCat("kpis/", kpi.id), kUpdated,
               RecordOf(kpi).SerializeAsString(), kpi.id});
      return absl::OkStatus();
    });
  }

  absl::Status DeleteKpi(const std::string& id, int64_t expected) override {
    return db_->Write("metrics.kpi_delete", [&](storage::Tx& tx) {
      std::string data;
      soci::indicator ind = soci::i_null;
      tx.sql() << "SELECT data FROM kpis WHERE id = :id", soci::use(id),
          soci::into(data, ind);
      if (ind != soci::i_ok) {
        return absl::NotFoundError(absl::StrCat("kpis/", id, " not found"));
      }
      auto k = Decode(data);
      if (!k.ok()) return k.status();
      if (k->revision != expected) {
        return absl::AbortedError(
            absl::StrCat("kpis/", id, " changed meanwhile; read it again"));
      }
      tx.sql() << "DELETE FROM kpis WHERE id = :id", soci::use(id);
      tx.sql() << "DELETE FROM kpi_points WHERE kpi_id = :id", soci::use(id);
      tx.sql() << "DELETE FROM kpi_hours WHERE kpi_id = :id", soci::use(id);
      tx.sql() << "DELETE FROM kpi_sources WHERE kpi_id = :id", soci::use(id);
      tx.Emit({kKpiEntity, absl::StrCat("kpis/", id), kDeleted,
               RecordOf(*k).SerializeAsString(), id});
      return absl::OkStatus();
    });
  }

  absl::StatusOr<int64_t> WritePoints(
      const std::vector<Point>& points, const Idempotency& idem,
      const absl::flat_hash_map<std::string, std::vector<std::string>>& derived)
      override {
    // Within one call the last of several points with the same key wins, as
    // a re-send would.
    std::vector<const Point*> sorted;
    sorted.reserve(points.size());
    for (const auto& p : points) sorted.push_back(&p);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Point* a, const Point* b) {
                       return std::tie(a->kpi_id, a->dimension, a->time) <
                              std::tie(b->kpi_id, b->dimension, b->time);
                     });
    std::vector<const Point*> unique;
    unique.reserve(sorted.size());
    for (const Point* p : sorted) {
      if (!unique.empty() && unique.back()->kpi_id == p->kpi_id &&
          unique.back()->dimension == p->dimension &&
          unique.back()->time == p->time) {
        unique.back() = p;
      } else {
        unique.push_back(p);
      }
    }
    int64_t answer = static_cast<int64_t>(points.size());
    auto st = db_->Write("metrics.points_write", [&](storage::Tx& tx) {
      answer = static_cast<int64_t>(points.size());
      if (!idem.request_id.empty()) {
        auto prior = storage::LookupIdempotent(
            tx.sql(), idem.scope, idem.request_id, idem.fingerprint);
        if (!prior.ok()) return prior.status();
        if (prior->has_value()) {
          long long n = 0;
          absl::SimpleAtoi(**prior, &n);
          answer = n;
          return absl::OkStatus();
        }
      }
      auto& sql = tx.sql();
      // Raw points, in chunks bound as arrays.
      constexpr size_t kChunk = 4096;
      std::vector<std::string> ks, ds, ss;
      std::vector<long long> ts;
      std::vector<double> vs;
      for (size_t i = 0; i < unique.size(); i += kChunk) {
        size_t n = std::min(kChunk, unique.size() - i);
        ks.resize(n);
        ds.resize(n);
        ss.resize(n);
        ts.resize(n);
        vs.resize(n);
        for (size_t j = 0; j < n; ++j) {
          const Point* p = unique[i + j];
          ks[j] = p->kpi_id;
          ds[j] = p->dimension;
          ts[j] = p->time;
          vs[j] = p->value;
          ss[j] = p->source;
        }
        sql << "INSERT INTO kpi_points (kpi_id, dim, time, value, source) "
               "VALUES (:k, :d, :t, :v, :s) ON CONFLICT (kpi_id, dim, time) "
               "DO UPDATE SET value = excluded.value, source = excluded.source",
            soci::use(ks), soci::use(ds), soci::use(ts), soci::use(vs),
            soci::use(ss);
      }
      // Hours touched, in (kpi, dim, hour) order: `unique` is sorted by
      // (kpi, dim, time), so each hour's points are one run of it.
      struct HourKey {
        std::string kpi, dim;
        int64_t hour;
        size_t begin, end;  // its points in `unique`
      };
      std::vector<HourKey> hours;
      for (size_t i = 0; i < unique.size(); ++i) {
        const Point* p = unique[i];
        int64_t h = HourOf(p->time);
        if (hours.empty() || hours.back().kpi != p->kpi_id ||
            hours.back().dim != p->dimension || hours.back().hour != h) {
          hours.push_back({p->kpi_id, p->dimension, h, i, i});
        }
        hours.back().end = i + 1;
      }
      // Hours folded before this call, one range read per (kpi, dim). Only
      // those are folded again from their stored points (a replaced point
      // leaves no trace of its old value); an hour without a fold had no
      // point before, so its fold is that of this call's points.
      std::vector<bool> folded(hours.size());
      {
        std::string k, d;
        long long from = 0, to = 0, h = 0;
        soci::statement read =
            (sql.prepare << "SELECT hour FROM kpi_hours WHERE kpi_id = :k AND "
                            "hour >= :f AND hour <= :t AND dim = :d",
             soci::into(h), soci::use(k), soci::use(from), soci::use(to),
             soci::use(d));
        for (size_t i = 0; i < hours.size();) {
          size_t j = i;
          while (j < hours.size() && hours[j].kpi == hours[i].kpi &&
                 hours[j].dim == hours[i].dim)
            ++j;
          k = hours[i].kpi;
          d = hours[i].dim;
          from = hours[i].hour;
          to = hours[j - 1].hour;
          std::vector<long long> stored;
          read.execute();
          while (read.fetch()) stored.push_back(h);
          std::sort(stored.begin(), stored.end());
          for (size_t x = i; x < j && !stored.empty(); ++x) {
            folded[x] =
                std::binary_search(stored.begin(), stored.end(), hours[x].hour);
          }
          i = j;
        }
      }
      {
        std::string k, d;
        long long from = 0, to = 0, t = 0;
        double v = 0;
        soci::statement read =
            (sql.prepare << "SELECT time, value FROM kpi_points WHERE kpi_id "
                            "= :k AND dim = :d AND time >= :f AND time < :t",
             soci::into(t), soci::into(v), soci::use(k), soci::use(d),
             soci::use(from), soci::use(to));
        std::vector<std::string> hk, hd;
        std::vector<long long> hh, hn, hlt;
        std::vector<double> hs, hmin, hmax, hl;
        for (size_t x = 0; x < hours.size(); ++x) {
          const HourKey& key = hours[x];
          Accum a;
          if (folded[x]) {
            k = key.kpi;
            d = key.dim;
            from = key.hour;
            to = key.hour + kMicrosPerHour;
            read.execute();
            while (read.fetch()) a.Add(t, v);
          } else {
            for (size_t i = key.begin; i < key.end; ++i)
              a.Add(unique[i]->time, unique[i]->value);
          }
          hk.push_back(key.kpi);
          hd.push_back(key.dim);
          hh.push_back(key.hour);
          hn.push_back(a.count);
          hs.push_back(a.sum);
          hmin.push_back(a.min);
          hmax.push_back(a.max);
          hlt.push_back(a.last_time);
          hl.push_back(a.last);
          if (hk.size() == kChunk)
            FlushHours(sql, hk, hd, hh, hn, hs, hmin, hmax, hlt, hl);
        }
        FlushHours(sql, hk, hd, hh, hn, hs, hmin, hmax, hlt, hl);
      }
      // One event per KPI.
      absl::flat_hash_map<std::string, PointsWritten> per_kpi;
      for (const Point* p : unique) {
        auto [it, fresh] = per_kpi.try_emplace(p->kpi_id);
        PointsWritten& w = it->second;
        if (fresh) {
          w.kpi_id = p->kpi_id;
          w.from = w.to = p->time;
        }
        w.from = std::min(w.from, p->time);
        w.to = std::max(w.to, p->time);
        ++w.count;
      }
      // A derived KPI moves over the times any of its inputs were written.
      absl::flat_hash_map<std::string, PointsWritten> moved;
      for (const auto& [id, w] : per_kpi) {
        auto d = derived.find(id);
        if (d == derived.end()) continue;
        for (const auto& out : d->second) {
          if (per_kpi.contains(out)) continue;
          // It takes no points of its own: none are counted for it.
          auto [it, fresh] = moved.try_emplace(out, w);
          if (fresh) {
            it->second.kpi_id = out;
            it->second.count = 0;
            continue;
          }
          it->second.from = std::min(it->second.from, w.from);
          it->second.to = std::max(it->second.to, w.to);
        }
      }
      per_kpi.merge(moved);
      std::vector<std::string> ids;
      for (const auto& [id, w] : per_kpi) ids.push_back(id);
      std::sort(ids.begin(), ids.end());
      for (const auto& id : ids) {
        const PointsWritten& w = per_kpi[id];
        store::PointsWrittenRecord r;
        r.set_kpi_id(id);
        r.set_from(w.from);
        r.set_to(w.to);
        r.set_count(w.count);
        tx.Emit({kPointsEntity, absl::StrCat("kpis/", id), kPointsWritten,
                 r.SerializeAsString(), id});
      }
      if (idem.request_id.empty()) return absl::OkStatus();
      return storage::RecordIdempotent(tx, idem.scope, idem.request_id,
                                       idem.fingerprint,
                                       absl::StrCat(points.size()));
    });
    if (!st.ok()) return st;
    return answer;
  }

  absl::StatusOr<std::map<std::string, Series>> Aggregate(
      const PointQuery& q) override {
    std::map<std::string, Series> out;
    if (q.step <= 0 || q.end <= q.start) return out;
    size_t buckets =
        static_cast<size_t>((q.end - q.start + q.step - 1) / q.step);
    auto series = [&](const std::string& group) -> Series& {
      auto [it, fresh] = out.try_emplace(group);
      if (fresh) it->second.resize(buckets);
      return it->second;
    };
    if (q.group_by.empty()) series("");
    bool by_hour =
        q.start % kMicrosPerHour == 0 && q.step % kMicrosPerHour == 0;
    auto st = db_->Read("metrics.points_query", [&](soci::session& sql) {
      std::string dim;
      long long start = q.start, end = q.end;
      if (by_hour) {
        long long hour = 0, n = 0, lt = 0;
        double sum = 0, lo = 0, hi = 0, last = 0;
        soci::statement stmt =
            (sql.prepare << "SELECT dim, hour, n, total, lo, hi, last_time, "
                            "last_value FROM kpi_hours WHERE kpi_id = :k AND "
                            "hour >= :s AND hour < :e",
             soci::into(dim), soci::into(hour), soci::into(n), soci::into(sum),
             soci::into(lo), soci::into(hi), soci::into(lt), soci::into(last),
             soci::use(q.kpi_id), soci::use(start), soci::use(end));
        stmt.execute();
        while (stmt.fetch()) {
          auto group = GroupOf(q, dim);
          if (!group) continue;
          Accum a{n, sum, lo, hi, lt, last};
          series(*group)[(hour - q.start) / q.step].Merge(a);
        }
      } else {
        long long t = 0;
        double v = 0;
        soci::statement stmt =
            (sql.prepare << "SELECT dim, time, value FROM kpi_points WHERE "
                            "kpi_id = :k AND time >= :s AND time < :e",
             soci::into(dim), soci::into(t), soci::into(v), soci::use(q.kpi_id),
             soci::use(start), soci::use(end));
        stmt.execute();
        while (stmt.fetch()) {
          auto group = GroupOf(q, dim);
          if (!group) continue;
          series(*group)[(t - q.start) / q.step].Add(t, v);
        }
      }
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::StatusOr<int64_t> LastPointTime(const std::string& kpi_id) override {
    long long t = 0;
    soci::indicator ind = soci::i_null;
    auto st = db_->Read("metrics.points_last", [&](soci::session& sql) {
      sql << "SELECT MAX(last_time) FROM kpi_hours WHERE kpi_id = :k",
          soci::use(kpi_id), soci::into(t, ind);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return ind == soci::i_ok ? t : 0;
  }

  absl::Status SetSourceError(const std::string& kpi_id,
                              const std::string& error, int64_t time) override {
    return db_->Write("metrics.source_error", [&](storage::Tx& tx) {
      long long t = time;
      tx.sql() << "INSERT INTO kpi_sources (kpi_id, error, time) VALUES (:k, "
                  ":e, :t) ON CONFLICT (kpi_id) DO UPDATE SET error = "
                  "excluded.error, time = excluded.time",
          soci::use(kpi_id), soci::use(error), soci::use(t);
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::pair<std::string, int64_t>> SourceError(
      const std::string& kpi_id) override {
    std::pair<std::string, int64_t> out;
    std::string error;
    long long t = 0;
    soci::indicator ind = soci::i_null;
    auto st = db_->Read("metrics.source_get", [&](soci::session& sql) {
      sql << "SELECT error, time FROM kpi_sources WHERE kpi_id = :k",
          soci::use(kpi_id), soci::into(error, ind), soci::into(t);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    if (ind == soci::i_ok) out = {error, t};
    return out;
  }

 private:
  static void FlushHours(soci::session& sql, std::vector<std::string>& hk,
                         std::vector<std::string>& hd,
                         std::vector<long long>& hh, std::vector<long long>& hn,
                         std::vector<double>& hs, std::vector<double>& hmin,
                         std::vector<double>& hmax, std::vector<long long>& hlt,
                         std::vector<double>& hl) {
    if (hk.empty()) return;
    sql << "INSERT INTO kpi_hours (kpi_id, dim, hour, n, total, lo, hi, "
           "last_time, last_value) VALUES (:k, :d, :h, :n, :s, :lo, :hi, :lt, "
           ":l) ON CONFLICT (kpi_id, dim, hour) DO UPDATE SET n = excluded.n, "
           "total = excluded.total, lo = excluded.lo, hi = excluded.hi, "
           "last_time = excluded.last_time, last_value = excluded.last_value",
        soci::use(hk), soci::use(hd), soci::use(hh), soci::use(hn),
        soci::use(hs), soci::use(hmin), soci::use(hmax), soci::use(hlt),
        soci::use(hl);
    for (auto* v : {&hk, &hd}) v->clear();
    for (auto* v : {&hh, &hn, &hlt}) v->clear();
    for (auto* v : {&hs, &hmin, &hmax, &hl}) v->clear();
  }

  storage::Database* db_;
};

}  // namespace

std::unique_ptr<KpiRepository> NewSqlRepository(storage::Database* db) {
  return std::make_unique<SqlRepository>(db);
}

absl::StatusOr<Kpi> DecodeKpi(const std::string& payload) {
  store::KpiRecord r;
  if (!r.ParseFromString(payload)) {
    return absl::DataLossError("a KPI event does not decode");
  }
  return KpiOf(r);
}

absl::StatusOr<PointsWritten> DecodePointsWritten(const std::string& payload) {
  store::PointsWrittenRecord r;
  if (!r.ParseFromString(payload)) {
    return absl::DataLossError("a points event does not decode");
  }
  return PointsWritten{r.kpi_id(), r.from(), r.to(), r.count()};
}

// SQLite keeps points and folds in their key order (WITHOUT ROWID);
// PostgreSQL has no such clause and gets the same tables without it.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE kpis (
  id TEXT PRIMARY KEY,
  owner_person TEXT NOT NULL,
  owner_team TEXT NOT NULL,
  perspective INTEGER NOT NULL,
  revision BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX kpis_by_person ON kpis (owner_person, id);
CREATE INDEX kpis_by_team ON kpis (owner_team, id);
CREATE TABLE kpi_points (
  kpi_id TEXT NOT NULL,
  dim TEXT NOT NULL,
  time BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  source TEXT NOT NULL,
  PRIMARY KEY (kpi_id, dim, time)
) WITHOUT ROWID;
CREATE TABLE kpi_hours (
  kpi_id TEXT NOT NULL,
  dim TEXT NOT NULL,
  hour BIGINT NOT NULL,
  n BIGINT NOT NULL,
  total DOUBLE PRECISION NOT NULL,
  lo DOUBLE PRECISION NOT NULL,
  hi DOUBLE PRECISION NOT NULL,
  last_time BIGINT NOT NULL,
  last_value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (kpi_id, hour, dim)
) WITHOUT ROWID;
CREATE TABLE kpi_sources (
  kpi_id TEXT PRIMARY KEY,
  error TEXT NOT NULL,
  time BIGINT NOT NULL
)
)sql";

const std::vector<storage::Migration>& MetricsMigrations() {
  static const auto* m = new std::vector<storage::Migration>{
      {1, "kpis, points, hourly folds, source errors", kSchemaV1,
       absl::StrReplaceAll(kSchemaV1, {{") WITHOUT ROWID;", ");"}})},
  };
  return *m;
}

}  // namespace sightline::metrics
