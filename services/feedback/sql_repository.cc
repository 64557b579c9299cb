#include "services/feedback/sql_repository.h"

#include <soci/soci.h>

#include <deque>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "lib/status/status.h"
#include "services/feedback/rules.h"

namespace sightline::feedback {
namespace {

std::string Encode(const google::protobuf::Message& m) {
  return absl::Base64Escape(m.SerializeAsString());
}

template <typename M>
absl::StatusOr<M> Decode(const std::string& data, absl::string_view what) {
  std::string bytes;
  M m;
  if (!absl::Base64Unescape(data, &bytes) || !m.ParseFromString(bytes)) {
    return absl::DataLossError(
        absl::StrCat("stored ", what, " does not decode"));
  }
  return m;
}

// One row of a query that selects (text, bigint, text): an id, a sort key and
// the record.
struct Row {
  std::string id;
  long long key = 0;
  std::string data;
};

// A statement built piece by piece, with its inputs kept alive (SOCI binds
// references) and numbered placeholders.
class Query {
 public:
  explicit Query(absl::string_view head) : q_(head) {}
  Query& Sql(absl::string_view s) {
    absl::StrAppend(&q_, s);
    return *this;
  }
  Query& Str(std::string v) {
    absl::StrAppend(&q_, ":p", n_++);
    strs_.push_back(std::move(v));
    order_.push_back({true, strs_.size() - 1});
    return *this;
  }
  Query& Int(long long v) {
    absl::StrAppend(&q_, ":p", n_++);
    ints_.push_back(v);
    order_.push_back({false, ints_.size() - 1});
    return *this;
  }
  // "(:p1, :p2...)" of the values.
  Query& In(const std::vector<std::string>& values) {
    q_ += "(";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) q_ += ", ";
      Str(values[i]);
    }
    q_ += ")";
    return *this;
  }

  std::vector<Row> Rows(soci::session& sql) {
    std::vector<Row> out;
    Row r;
    soci::statement st(sql);
    st.exchange(soci::into(r.id));
    st.exchange(soci::into(r.key));
    st.exchange(soci::into(r.data));
    Bind(st);
    st.alloc();
    st.prepare(q_);
    st.define_and_bind();
    st.execute(false);
    while (st.fetch()) out.push_back(r);
    return out;
  }

  long long Exec(soci::session& sql) {
    soci::statement st(sql);
    Bind(st);
    st.alloc();
    st.prepare(q_);
    st.define_and_bind();
    st.execute(true);
    return st.get_affected_rows();
  }

 private:
  void Bind(soci::statement& st) {
    for (const auto& [is_str, i] : order_) {
      if (is_str) {
        st.exchange(soci::use(strs_[i]));
      } else {
        st.exchange(soci::use(ints_[i]));
      }
    }
  }
  std::string q_;
  int n_ = 1;
  std::deque<std::string> strs_;
  std::deque<long long> ints_;
  std::vector<std::pair<bool, size_t>> order_;
};

// The cursor "key/id" of a page: rows after it in (key DESC, id ASC) order.
void AfterCursor(Query& q, const std::string& after, absl::string_view key,
                 absl::string_view id) {
  if (after.empty()) return;
  std::pair<std::string, std::string> parts = absl::StrSplit(after, '/');
  long long k = 0;
  if (!absl::SimpleAtoi(parts.first, &k)) k = 0;
  q.Sql(absl::StrCat(" AND (", key, " < ")).Int(k);
  q.Sql(absl::StrCat(" OR (", key, " = ")).Int(k);
  q.Sql(absl::StrCat(" AND ", id, " > ")).Str(parts.second).Sql("))");
}

std::string CursorOf(const Row& r) { return absl::StrCat(r.key, "/", r.id); }

template <typename M>
absl::StatusOr<std::vector<M>> DecodeRows(const std::vector<Row>& rows,
                                          absl::string_view what) {
  std::vector<M> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    auto m = Decode<M>(r.data, what);
    if (!m.ok()) return m.status();
    out.push_back(std::move(*m));
  }
  return out;
}

std::string PairKey(const std::string& manager, const std::string& report) {
  return absl::StrCat(manager, "|", report);
}

absl::Status NotFound(absl::string_view collection, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(collection, "/", id, " not found"));
}

// The record `id` of `table`, on any session; NOT_FOUND names `collection`.
template <typename M>
absl::StatusOr<M> ById(soci::session& sql, absl::string_view table,
                       absl::string_view collection, const std::string& id) {
  auto rows =
      Query(absl::StrCat("SELECT id, 0, data FROM ", table, " WHERE id = "))
          .Str(id)
          .Rows(sql);
  if (rows.empty()) return NotFound(collection, id);
  return Decode<M>(rows[0].data, collection);
}

class SqlRepository : public FeedbackRepository {
 public:
  explicit SqlRepository(storage::Database* db) : db_(db) {}

  absl::StatusOr<std::optional<std::string>> FindIdempotent(
      const Idempotency& idem) override {
    return storage::FindIdempotent(*db_, "feedback.idempotency", idem);
  }

  absl::StatusOr<std::string> InsertFeedback(const store::Feedback& f,
                                             int64_t rank,
                                             const Idempotency& idem,
                                             const std::string& responder_id,
                                             int64_t now) override {
    std::string answer = f.id();
    // Feedback that answers no request is one insert of a new row (and its
    // idempotency record, whose unique key settles a concurrent retry): it
    // reads nothing another write changes, so it needs no SERIALIZABLE. An
    // answer to a request updates the request: that stays SERIALIZABLE
    // (docs/changelog-postgres.md).
    const storage::Isolation isolation =
        f.request_id().empty() ? storage::Isolation::kReadCommitted
                               : storage::Isolation::kSerializable;
    auto body = [&](storage::Tx& tx) -> absl::Status {
      auto claimed = Claim(tx, idem, &answer);
      if (!claimed.ok() || !*claimed) return claimed.status();
      if (!f.request_id().empty()) {
        auto req = LockedRequest(tx, f.request_id());
        if (!req.ok()) return req.status();
        auto st = Answer(tx, &*req, responder_id, ResponderState::kCompleted,
                         "", now);
        if (!st.ok()) return st;
      }
      Query q(
          "INSERT INTO feedback (id, subject_id, author_key, goal_id, "
          "request_id, visibility, kind, relationship, anonymous, "
          "create_time, sort_rank, data) VALUES (");
      q.Str(f.id()).Sql(", ").Str(f.subject_id()).Sql(", ");
      q.Str(f.author_key()).Sql(", ").Str(f.goal_id()).Sql(", ");
      q.Str(f.request_id()).Sql(", ").Int(f.visibility()).Sql(", ");
      q.Int(f.kind()).Sql(", ").Int(f.relationship()).Sql(", ");
      q.Int(f.anonymous() ? 1 : 0).Sql(", ").Int(f.create_time()).Sql(", ");
      q.Int(rank).Sql(", ").Str(Encode(f)).Sql(")");
      q.Exec(tx.sql());
      if (static_cast<Visibility>(f.visibility()) == Visibility::kPublic) {
        tx.Emit({kRecognitionEntity, absl::StrCat("feedback/", f.id()),
                 kRecognitionCreated, f.SerializeAsString(), f.subject_id()});
      }
      return Record(tx, idem, f.id());
    };
    auto st = db_->Write("feedback.create", body, nullptr, isolation);
    if (!st.ok()) return st;
    return answer;
  }

  absl::StatusOr<store::Feedback> GetFeedback(const std::string& id) override {
    return GetOne<store::Feedback>("feedback.get", "feedback", "feedback", id);
  }

  absl::StatusOr<std::vector<store::Feedback>> ListFeedback(
      const FeedbackQuery& f, const Page& page,
      std::vector<std::string>* cursors) override {
    std::vector<Row> rows;
    auto st = db_->Read("feedback.list", [&](soci::session& sql) {
      Query q("SELECT id, sort_rank, data FROM feedback WHERE 1 = 1");
      if (!f.subject_id.empty()) q.Sql(" AND subject_id = ").Str(f.subject_id);
      if (!f.author_key.empty()) q.Sql(" AND author_key = ").Str(f.author_key);
      if (!f.goal_id.empty()) q.Sql(" AND goal_id = ").Str(f.goal_id);
      if (!f.request_id.empty()) q.Sql(" AND request_id = ").Str(f.request_id);
      if (!f.subject_in.empty()) q.Sql(" AND subject_id IN ").In(f.subject_in);
      if (f.public_only || f.exclude_subject_only) {
        q.Sql(f.public_only ? " AND (visibility = " : " AND (visibility <> ")
            .Int(f.public_only ? 3 : 1);
        if (!f.or_author_key.empty())
          q.Sql(" OR author_key = ").Str(f.or_author_key);
        q.Sql(")");
      }
      if (f.exclude_anonymous) q.Sql(" AND anonymous = ").Int(0);
      if (f.kind != 0) q.Sql(" AND kind = ").Int(f.kind);
      if (f.relationship != 0)
        q.Sql(" AND relationship = ").Int(f.relationship);
      if (f.from != std::numeric_limits<int64_t>::min())
        q.Sql(" AND create_time >= ").Int(f.from);
      if (f.to != std::numeric_limits<int64_t>::max())
        q.Sql(" AND create_time < ").Int(f.to);
      AfterCursor(q, page.after, "sort_rank", "id");
      q.Sql(" ORDER BY sort_rank DESC, id ASC LIMIT ").Int(page.limit);
      rows = q.Rows(sql);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    if (cursors != nullptr) {
      cursors->clear();
      for (const auto& r : rows) cursors->push_back(CursorOf(r));
    }
    return DecodeRows<store::Feedback>(rows, "feedback");
  }

  absl::StatusOr<store::Feedback> Acknowledge(const std::string& id,
                                              int reaction,
                                              int64_t now) override {
    store::Feedback out;
    auto st = db_->Write("feedback.acknowledge", [&](storage::Tx& tx) {
      auto f = ById<store::Feedback>(tx.sql(), "feedback", "feedback", id);
      if (!f.ok()) return f.status();
      f->set_ack_time(now);
      f->set_ack_reaction(reaction);
      Query("UPDATE feedback SET data = ")
          .Str(Encode(*f))
          .Sql(" WHERE id = ")
          .Str(id)
          .Exec(tx.sql());
      out = std::move(*f);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::Status React(const store::Feedback& f, const std::string& person_id,
                     int reaction) override {
    return db_->Write("feedback.react", [&](storage::Tx& tx) {
      Query("DELETE FROM reactions WHERE feedback_id = ")
          .Str(f.id())
          .Sql(" AND person_id = ")
          .Str(person_id)
          .Exec(tx.sql());
      if (reaction != 0) {
        Query(
            "INSERT INTO reactions (feedback_id, person_id, reaction) VALUES (")
            .Str(f.id())
            .Sql(", ")
            .Str(person_id)
            .Sql(", ")
            .Int(reaction)
            .Sql(")")
            .Exec(tx.sql());
      }
      tx.Emit({kRecognitionEntity, absl::StrCat("feedback/", f.id()),
               kRecognitionReacted, f.SerializeAsString(), f.subject_id()});
      return absl::OkStatus();
    });
  }

  absl::StatusOr<ReactionCounts> Reactions(
      const std::string& feedback_id, const std::string& person_id) override {
    ReactionCounts out;
    auto st = db_->Read("feedback.reactions", [&](soci::session& sql) {
      auto rows = Query(
                      "SELECT person_id, reaction, '' FROM reactions WHERE "
                      "feedback_id = ")
                      .Str(feedback_id)
                      .Rows(sql);
      int counts[kMaxReaction + 1] = {};
      for (const auto& r : rows) {
        if (r.key < 1 || r.key > kMaxReaction) continue;
        ++counts[r.key];
        if (r.id == person_id) out.mine = static_cast<int>(r.key);
      }
      for (int i = 1; i <= kMaxReaction; ++i) {
        if (counts[i] > 0) out.counts.push_back({i, counts[i]});
      }
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::StatusOr<std::string> InsertRequest(const store::Request& r,
                                            const store::Review* review,
                                            const Idempotency& idem) override {
    std::string answer = review != nullptr ? review->id() : r.id();
    auto st = db_->Write("feedback.request_create", [&](storage::Tx& tx) {
      auto claimed = Claim(tx, idem, &answer);
      if (!claimed.ok() || !*claimed) return claimed.status();
      Query(
          "INSERT INTO feedback_requests (id, requester_id, subject_id, "
          "create_time, data) VALUES (")
          .Str(r.id())
          .Sql(", ")
          .Str(r.requester_id())
          .Sql(", ")
          .Str(r.subject_id())
          .Sql(", ")
          .Int(r.create_time())
          .Sql(", ")
          .Str(Encode(r))
          .Sql(")")
          .Exec(tx.sql());
      for (const auto& p : r.responders()) {
        Query(
            "INSERT INTO request_responders (request_id, responder_id, "
            "is_open, due_time, create_time) VALUES (")
            .Str(r.id())
            .Sql(", ")
            .Str(p.person_id())
            .Sql(", 1, ")
            .Int(r.due_time())
            .Sql(", ")
            .Int(r.create_time())
            .Sql(")")
            .Exec(tx.sql());
      }
      if (review != nullptr) {
        Query("INSERT INTO reviews (id, subject_id, data) VALUES (")
            .Str(review->id())
            .Sql(", ")
            .Str(review->subject_id())
            .Sql(", ")
            .Str(Encode(*review))
            .Sql(")")
            .Exec(tx.sql());
      }
      return Record(tx, idem, answer);
    });
    if (!st.ok()) return st;
    return answer;
  }

  absl::StatusOr<store::Request> GetRequest(const std::string& id) override {
    return GetOne<store::Request>("feedback.request_get", "feedback_requests",
                                  "feedbackRequests", id);
  }

  absl::StatusOr<std::vector<store::Request>> ListRequests(
      const std::string& person_id, bool inbox, bool include_closed,
      const Page& page, std::string* cursor) override {
    std::vector<Row> rows;
    auto st = db_->Read("feedback.request_list", [&](soci::session& sql) {
      Query q(
          inbox ? "SELECT r.id, r.create_time, r.data FROM request_responders "
                  "p JOIN feedback_requests r ON r.id = p.request_id WHERE "
                  "p.responder_id = "
                : "SELECT r.id, r.create_time, r.data FROM feedback_requests r "
                  "WHERE r.requester_id = ");
      q.Str(person_id);
      if (inbox && !include_closed) q.Sql(" AND p.is_open = ").Int(1);
      AfterCursor(q, page.after, "r.create_time", "r.id");
      q.Sql(" ORDER BY r.create_time DESC, r.id ASC LIMIT ").Int(page.limit);
      rows = q.Rows(sql);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    *cursor = rows.empty() ? "" : CursorOf(rows.back());
    return DecodeRows<store::Request>(rows, "feedback request");
  }

  absl::StatusOr<store::Request> Decline(const std::string& id,
                                         const std::string& responder,
                                         const std::string& reason,
                                         int64_t now) override {
    store::Request out;
    auto st = db_->Write("feedback.request_decline", [&](storage::Tx& tx) {
      auto req = LockedRequest(tx, id);
      if (!req.ok()) return req.status();
      auto st =
          Answer(tx, &*req, responder, ResponderState::kDeclined, reason, now);
      if (!st.ok()) return st;
      out = std::move(*req);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::StatusOr<std::vector<store::Request>> RequestsAbout(
      const std::vector<std::string>& subject_ids, int64_t from,
      int64_t to) override {
    std::vector<Row> rows;
    if (subject_ids.empty()) return std::vector<store::Request>();
    auto st = db_->Read("feedback.request_stats", [&](soci::session& sql) {
      Query q(
          "SELECT id, create_time, data FROM feedback_requests WHERE "
          "subject_id IN ");
      q.In(subject_ids).Sql(" AND create_time >= ").Int(from);
      q.Sql(" AND create_time < ").Int(to);
      rows = q.Rows(sql);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return DecodeRows<store::Request>(rows, "feedback request");
  }

  absl::StatusOr<store::Review> GetReview(const std::string& id) override {
    return GetOne<store::Review>("feedback.review_get", "reviews", "reviews",
                                 id);
  }

  absl::StatusOr<std::string> InsertOneOnOne(const store::OneOnOne& m,
                                             const Idempotency& idem) override {
    std::string answer = m.id();
    auto st = db_->Write("feedback.one_on_one_create", [&](storage::Tx& tx) {
      auto claimed = Claim(tx, idem, &answer);
      if (!claimed.ok() || !*claimed) return claimed.status();
      store::OneOnOne stored = m;
      stored.clear_action_items();
      stored.clear_my_note();
      Query(
          "INSERT INTO one_on_ones (id, manager_id, report_id, "
          "scheduled_time, data) VALUES (")
          .Str(m.id())
          .Sql(", ")
          .Str(m.manager_id())
          .Sql(", ")
          .Str(m.report_id())
          .Sql(", ")
          .Int(m.scheduled_time())
          .Sql(", ")
          .Str(Encode(stored))
          .Sql(")")
          .Exec(tx.sql());
      for (const auto& item : m.action_items()) InsertItem(tx, m, item);
      return Record(tx, idem, m.id());
    });
    if (!st.ok()) return st;
    return answer;
  }

  absl::StatusOr<store::OneOnOne> GetOneOnOne(
      const std::string& id, const std::string& reader) override {
    store::OneOnOne out;
    auto st = db_->Read("feedback.one_on_one_get", [&](soci::session& sql) {
      auto m = Meeting(sql, id);
      if (!m.ok()) return m.status();
      out = std::move(*m);
      return Fill(sql, reader, &out);
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::Status UpdateOneOnOne(const std::string& id, int64_t revision,
                              const std::string& writer,
                              const OneOnOneChange& change,
                              int64_t now) override {
    return db_->Write("feedback.one_on_one_update", [&](storage::Tx& tx) {
      auto m = Meeting(tx.sql(), id);
      if (!m.ok()) return m.status();
      if (m->revision() != revision) {
        return absl::AbortedError(
            "one_on_one.etag: the meeting changed since it was read; read it "
            "again");
      }
      if (change.scheduled_time.has_value())
        m->set_scheduled_time(*change.scheduled_time);
      if (change.agenda.has_value()) {
        m->clear_agenda();
        for (const auto& a : *change.agenda) *m->add_agenda() = a;
      }
      m->set_revision(m->revision() + 1);
      m->set_update_time(now);
      Query("UPDATE one_on_ones SET scheduled_time = ")
          .Int(m->scheduled_time())
          .Sql(", data = ")
          .Str(Encode(*m))
          .Sql(" WHERE id = ")
          .Str(id)
          .Exec(tx.sql());
      if (change.my_note.has_value()) {
        Query("DELETE FROM one_on_one_notes WHERE one_on_one_id = ")
            .Str(id)
            .Sql(" AND writer_id = ")
            .Str(writer)
            .Exec(tx.sql());
        if (!change.my_note->empty()) {
          Query(
              "INSERT INTO one_on_one_notes (one_on_one_id, writer_id, note) "
              "VALUES (")
              .Str(id)
              .Sql(", ")
              .Str(writer)
              .Sql(", ")
              .Str(*change.my_note)
              .Sql(")")
              .Exec(tx.sql());
        }
      }
      for (const auto& item : change.new_items) InsertItem(tx, *m, item);
      for (const auto& edit : change.edited_items) {
        auto item = ItemOf(tx.sql(), *m, edit.id());
        if (!item.ok()) return item.status();
        item->set_text(edit.text());
        item->set_owner_id(edit.owner_id());
        item->set_due_date(edit.due_date());
        SaveItem(tx, *item);
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<store::OneOnOne>> ListOneOnOnes(
      const std::string& person_id, const std::string& with_id,
      const Page& page) override {
    std::vector<store::OneOnOne> out;
    auto st = db_->Read("feedback.one_on_one_list", [&](soci::session& sql) {
      Query q(
          "SELECT id, scheduled_time, data FROM one_on_ones WHERE "
          "(manager_id = ");
      q.Str(person_id).Sql(" OR report_id = ").Str(person_id).Sql(")");
      if (!with_id.empty()) {
        q.Sql(" AND (manager_id = ").Str(with_id);
        q.Sql(" OR report_id = ").Str(with_id).Sql(")");
      }
      AfterCursor(q, page.after, "scheduled_time", "id");
      q.Sql(" ORDER BY scheduled_time DESC, id ASC LIMIT ").Int(page.limit);
      auto meetings = DecodeRows<store::OneOnOne>(q.Rows(sql), "1:1");
      if (!meetings.ok()) return meetings.status();
      for (auto& m : *meetings) {
        if (auto st = Fill(sql, person_id, &m); !st.ok()) return st;
        out.push_back(std::move(m));
      }
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::Status CompleteActionItem(const std::string& one_on_one_id,
                                  const std::string& item_id,
                                  int64_t now) override {
    return db_->Write("feedback.action_item_done", [&](storage::Tx& tx) {
      auto m = Meeting(tx.sql(), one_on_one_id);
      if (!m.ok()) return m.status();
      auto item = ItemOf(tx.sql(), *m, item_id);
      if (!item.ok()) return item.status();
      if (item->done()) return absl::OkStatus();
      item->set_done(true);
      item->set_done_time(now);
      SaveItem(tx, *item);
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::pair<int64_t, int64_t>> OpenParts(int64_t now) override {
    std::pair<int64_t, int64_t> out;
    auto st = db_->Read("feedback.census", [&](soci::session& sql) {
      auto rows = Query(
                      "SELECT '', COUNT(*), '' FROM request_responders WHERE "
                      "is_open = 1 AND due_time > ")
                      .Int(now)
                      .Sql(
                          " UNION ALL SELECT 'overdue', COUNT(*), '' FROM "
                          "request_responders WHERE is_open = 1 AND "
                          "due_time <= ")
                      .Int(now)
                      .Rows(sql);
      for (const auto& r : rows) {
        (r.id.empty() ? out.first : out.second) = r.key;
      }
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::StatusOr<std::string> PseudonymKey() override {
    {
      absl::MutexLock lock(&key_mu_);
      if (!key_.empty()) return key_;
    }
    std::string key;
    auto st = db_->Write("feedback.settings", [&](storage::Tx& tx) {
      auto rows = Query(
                      "SELECT name, 0, value FROM feedback_settings WHERE "
                      "name = ")
                      .Str("pseudonym_key")
                      .Rows(tx.sql());
      if (!rows.empty()) {
        key = rows[0].data;
        return absl::OkStatus();
      }
      key = absl::BytesToHexString(storage::RandomBytes(32));
      Query("INSERT INTO feedback_settings (name, value) VALUES (")
          .Str("pseudonym_key")
          .Sql(", ")
          .Str(key)
          .Sql(")")
          .Exec(tx.sql());
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    absl::MutexLock lock(&key_mu_);
    key_ = key;
    return key_;
  }

 private:
  // Inside a create: false (and `answer` set to the first answer) when the
  // request_id was used before; true when this create goes ahead.
  absl::StatusOr<bool> Claim(storage::Tx& tx, const Idempotency& idem,
                             std::string* answer) {
    if (idem.request_id.empty()) return true;
    auto prior = storage::LookupIdempotent(tx.sql(), idem.scope,
                                           idem.request_id, idem.fingerprint);
    if (!prior.ok()) return prior.status();
    if (!prior->has_value()) return true;
    *answer = **prior;
    return false;
  }

  absl::Status Record(storage::Tx& tx, const Idempotency& idem,
                      const std::string& answer) {
    if (idem.request_id.empty()) return absl::OkStatus();
    return storage::RecordIdempotent(tx, idem.scope, idem.request_id,
                                     idem.fingerprint, answer);
  }

  template <typename M>
  absl::StatusOr<M> GetOne(absl::string_view op, absl::string_view table,
                           absl::string_view collection,
                           const std::string& id) {
    absl::StatusOr<M> out = NotFound(collection, id);
    auto st = db_->Read(op, [&](soci::session& sql) {
      out = ById<M>(sql, table, collection, id);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  }

  absl::StatusOr<store::Request> LockedRequest(storage::Tx& tx,
                                               const std::string& id) {
    return ById<store::Request>(tx.sql(), "feedback_requests",
                                "feedbackRequests", id);
  }

  // Moves `responder`'s open part of `r` to `to` and saves the request.
  absl::Status Answer(storage::Tx& tx, store::Request* r,
                      const std::string& responder, ResponderState to,
                      const std::string& reason, int64_t now) {
    for (auto& p : *r->mutable_responders()) {
      if (p.person_id() != responder) continue;
      auto state = EffectiveState(p, r->due_time(), now);
      if (state != ResponderState::kOpen) {
        return absl::FailedPreconditionError(absl::StrCat(
            "request: your part of feedbackRequests/", r->id(), " is ",
            state == ResponderState::kCompleted  ? "answered already"
            : state == ResponderState::kDeclined ? "declined"
                                                 : "expired"));
      }
      p.set_state(static_cast<int>(to));
      p.set_respond_time(now);
      p.set_decline_reason(reason);
      Query("UPDATE feedback_requests SET data = ")
          .Str(Encode(*r))
          .Sql(" WHERE id = ")
          .Str(r->id())
          .Exec(tx.sql());
      Query("UPDATE request_responders SET is_open = 0 WHERE request_id = ")
          .Str(r->id())
          .Sql(" AND responder_id = ")
          .Str(responder)
          .Exec(tx.sql());
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "request: feedbackRequests/", r->id(), " was not addressed to you"));
  }

  absl::StatusOr<store::OneOnOne> Meeting(soci::session& sql,
                                          const std::string& id) {
    return ById<store::OneOnOne>(sql, "one_on_ones", "oneOnOnes", id);
  }

  // The reader's note, this meeting's action items, and the pair's open ones
  // from earlier meetings.
  absl::Status Fill(soci::session& sql, const std::string& reader,
                    store::OneOnOne* m) {
    auto notes = Query(
                     "SELECT writer_id, 0, note FROM one_on_one_notes WHERE "
                     "one_on_one_id = ")
                     .Str(m->id())
                     .Sql(" AND writer_id = ")
                     .Str(reader)
                     .Rows(sql);
    if (!notes.empty()) m->set_my_note(notes[0].data);
    Query q(
        "SELECT id, create_time, data FROM action_items WHERE "
        "one_on_one_id = ");
    q.Str(m->id()).Sql(" OR (pair_key = ");
    q.Str(PairKey(m->manager_id(), m->report_id()));
    q.Sql(" AND origin_time < ").Int(m->scheduled_time());
    // Carried while open, and into every meeting created before it was done.
    q.Sql(" AND (done = 0 OR done_time >= ").Int(m->create_time()).Sql(")");
    q.Sql(") ORDER BY create_time, id");
    auto items = DecodeRows<store::ActionItem>(q.Rows(sql), "action item");
    if (!items.ok()) return items.status();
    for (auto& i : *items) *m->add_action_items() = std::move(i);
    return absl::OkStatus();
  }

  absl::StatusOr<store::ActionItem> ItemOf(soci::session& sql,
                                           const store::OneOnOne& m,
                                           const std::string& item_id) {
    auto rows = Query(
                    "SELECT id, create_time, data FROM action_items WHERE id "
                    "= ")
                    .Str(item_id)
                    .Sql(" AND pair_key = ")
                    .Str(PairKey(m.manager_id(), m.report_id()))
                    .Rows(sql);
    if (rows.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "oneOnOnes/", m.id(), "/actionItems/", item_id, " not found"));
    }
    return Decode<store::ActionItem>(rows[0].data, "action item");
  }

  void InsertItem(storage::Tx& tx, const store::OneOnOne& m,
                  const store::ActionItem& item) {
    Query(
        "INSERT INTO action_items (id, pair_key, one_on_one_id, done, "
        "origin_time, create_time, data) VALUES (")
        .Str(item.id())
        .Sql(", ")
        .Str(PairKey(m.manager_id(), m.report_id()))
        .Sql(", ")
        .Str(m.id())
        .Sql(", 0, ")
        .Int(m.scheduled_time())
        .Sql(", ")
        .Int(item.create_time())
        .Sql(", ")
        .Str(Encode(item))
        .Sql(")")
        .Exec(tx.sql());
  }

  void SaveItem(storage::Tx& tx, const store::ActionItem& item) {
    Query("UPDATE action_items SET done = ")
        .Int(item.done() ? 1 : 0)
        .Sql(", done_time = ")
        .Int(item.done_time())
        .Sql(", data = ")
        .Str(Encode(item))
        .Sql(" WHERE id = ")
        .Str(item.id())
        .Exec(tx.sql());
  }

  storage::Database* db_;
  absl::Mutex key_mu_;
  std::string key_ ABSL_GUARDED_BY(key_mu_);
};

}  // namespace

std::unique_ptr<FeedbackRepository> NewSqlRepository(storage::Database* db) {
  return std::make_unique<SqlRepository>(db);
}

const std::vector<storage::Migration>& FeedbackMigrations() {
  static const auto* m = new std::vector<storage::Migration>{
      {1, "feedback, requests, reviews, reactions, 1:1s", R"sql(
CREATE TABLE feedback (
  id TEXT PRIMARY KEY,
  subject_id TEXT NOT NULL,
  author_key TEXT NOT NULL,
  goal_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  visibility INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  relationship INTEGER NOT NULL,
  anonymous INTEGER NOT NULL,
  create_time BIGINT NOT NULL,
  sort_rank BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX feedback_subject ON feedback (subject_id, sort_rank);
CREATE INDEX feedback_author ON feedback (author_key, sort_rank);
CREATE INDEX feedback_goal ON feedback (goal_id, sort_rank);
CREATE INDEX feedback_public ON feedback (visibility, sort_rank);
CREATE INDEX feedback_request ON feedback (request_id);
CREATE TABLE reactions (
  feedback_id TEXT NOT NULL,
  person_id TEXT NOT NULL,
  reaction INTEGER NOT NULL,
  PRIMARY KEY (feedback_id, person_id)
);
CREATE TABLE feedback_requests (
  id TEXT PRIMARY KEY,
  requester_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  create_time BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX feedback_requests_requester ON feedback_requests (requester_id, create_time);
CREATE INDEX feedback_requests_subject ON feedback_requests (subject_id, create_time);
CREATE TABLE request_responders (
  request_id TEXT NOT NULL,
  responder_id TEXT NOT NULL,
  is_open INTEGER NOT NULL,
  due_time BIGINT NOT NULL,
  create_time BIGINT NOT NULL,
  PRIMARY KEY (request_id, responder_id)
);
CREATE INDEX request_responders_inbox ON request_responders (responder_id, is_open, create_time);
CREATE TABLE reviews (
  id TEXT PRIMARY KEY,
  subject_id TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE one_on_ones (
  id TEXT PRIMARY KEY,
  manager_id TEXT NOT NULL,
  report_id TEXT NOT NULL,
  scheduled_time BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX one_on_ones_manager ON one_on_ones (manager_id, scheduled_time);
CREATE INDEX one_on_ones_report ON one_on_ones (report_id, scheduled_time);
CREATE TABLE one_on_one_notes (
  one_on_one_id TEXT NOT NULL,
  writer_id TEXT NOT NULL,
  note TEXT NOT NULL,
  PRIMARY KEY (one_on_one_id, writer_id)
);
CREATE TABLE action_items (
  id TEXT PRIMARY KEY,
  pair_key TEXT NOT NULL,
  one_on_one_id TEXT NOT NULL,
  done INTEGER NOT NULL,
  origin_time BIGINT NOT NULL,
  create_time BIGINT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX action_items_pair ON action_items (pair_key, done);
CREATE INDEX action_items_meeting ON action_items (one_on_one_id);
CREATE TABLE feedback_settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql",
       ""},
      // An item done after a later meeting was created stays on that
      // meeting (shown done) and leaves the ones created after it.
      {2, "action item completion time", R"sql(
ALTER TABLE action_items ADD COLUMN done_time BIGINT NOT NULL DEFAULT 0;
)sql",
       ""},
  };
  return *m;
}

}  // namespace sightline::feedback
