// sam-eval's summaries, report formats and CI gates.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "samcli/error.hpp"
#include "samcli/json_input.hpp"
#include "samcli/records.hpp"
#include "samcli/eval_run.hpp"

namespace samcli {
namespace {

const char* pickName(MaskPick pick) {
  switch (pick) {
    case MaskPick::Best:
      return "best";
    case MaskPick::First:
      return "first";
    case MaskPick::Union:
      return "union";
  }
  return "";
}

const char* statusName(ImageResult::Status status) {
  switch (status) {
    case ImageResult::Status::Scored:
      return "scored";
    case ImageResult::Status::Missing:
      return "missing";
    case ImageResult::Status::Skipped:
      return "skipped";
  }
  return "";
}

MetricSummaries summarizeMetrics(const std::vector<const ImageResult*>& images) {
  std::vector<double> iou, dice, boundaryF;
  for (const ImageResult* r : images) {
    if (r->status == ImageResult::Status::Skipped) continue;
    iou.push_back(r->scores.iou);
    dice.push_back(r->scores.dice);
    boundaryF.push_back(r->scores.boundaryF);
  }
  return {summarize(iou), summarize(dice), summarize(boundaryF)};
}

// Text and Markdown tables: 4 decimals, "-" for no value. CSV and JSON keep full precision.
std::string fixed4(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// Messages: enough digits to tell 0.59999 from 0.6, no more.
std::string shortNumber(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The shortest text that reads back as the same double (nlohmann's), empty for NaN.
std::string exactNumber(double v) { return std::isnan(v) ? "" : nlohmann::json(v).dump(); }

std::string groupLabel(const std::string& group) { return group.empty() ? "(top level)" : group; }

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string align;  // per column: 'l' text, 'r' numbers
};

Table summaryTable(const MetricSummaries& m) {
  Table t{{"metric", "images", "mean", "median", "min", "max"}, {}, "lrrrrr"};
  const std::pair<const char*, const Summary*> metrics[] = {{"IoU", &m.iou}, {"Dice", &m.dice}, {"boundary F", &m.boundaryF}};
  for (const auto& [name, s] : metrics) {
    t.rows.push_back({name, std::to_string(s->count), fixed4(s->mean), fixed4(s->median), fixed4(s->min), fixed4(s->max)});
  }
  return t;
}

Table groupTable(const std::vector<GroupReport>& groups) {
  Table t{{"group", "images", "mean IoU", "mean Dice", "mean boundary F"}, {}, "lrrrr"};
  for (const auto& g : groups) {
    t.rows.push_back({groupLabel(g.group), std::to_string(g.metrics.iou.count), fixed4(g.metrics.iou.mean),
                      fixed4(g.metrics.dice.mean), fixed4(g.metrics.boundaryF.mean)});
  }
  return t;
}

Table imageTable(const EvalReport& report) {
  const bool withGroups = !report.groups.empty();
  Table t;
  t.header = {"image"};
  if (withGroups) t.header.push_back("group");
  t.header.insert(t.header.end(), {"IoU", "Dice", "boundary F", "note"});
  t.align = withGroups ? "llrrrl" : "lrrrl";
  for (const auto& r : report.images) {
    std::vector<std::string> row{r.name};
    if (withGroups) row.push_back(groupLabel(r.group));
    switch (r.status) {
      case ImageResult::Status::Scored:
        row.insert(row.end(), {fixed4(r.scores.iou), fixed4(r.scores.dice), fixed4(r.scores.boundaryF), ""});
        break;
      case ImageResult::Status::Missing:
        row.insert(row.end(), {fixed4(0), fixed4(0), fixed4(0), "no prediction, scored 0"});
        break;
      case ImageResult::Status::Skipped:
        row.insert(row.end(), {"-", "-", "-", "no prediction, skipped"});
        break;
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string renderText(const Table& t) {
  std::vector<size_t> width(t.header.size());
  for (size_t c = 0; c < width.size(); ++c) {
    width[c] = t.header[c].size();
    for (const auto& row : t.rows) width[c] = std::max(width[c], row[c].size());
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      out += t.align[c] == 'l' ? cells[c] + pad : pad + cells[c];
      if (c + 1 < cells.size()) out += "  ";
    }
    out.erase(out.find_last_not_of(' ') + 1);
    return out + "\n";
  };
  std::string out = line(t.header);
  for (const auto& row : t.rows) out += line(row);
  return out;
}

std::string markdownCell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string renderMarkdown(const Table& t) {
  const auto line = [](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (const auto& c : cells) out += " " + markdownCell(c) + " |";
    return out + "\n";
  };
  std::vector<std::string> rule;
  for (char a : t.align) rule.push_back(a == 'l' ? "---" : "---:");
  std::string out = line(t.header) + line(rule);
  for (const auto& row : t.rows) out += line(row);
  return out;
}

std::string settingsLine(const EvalReport& r) {
  const size_t scored = r.images.size() - r.missing - r.skipped;
  std::string s = std::to_string(scored) + " scored";
  if (r.missing > 0) s += ", " + std::to_string(r.missing) + " without prediction scored 0";
  if (r.skipped > 0) s += ", " + std::to_string(r.skipped) + " without prediction skipped";
  return s + "; boundary tolerance " + std::to_string(r.options.boundaryTolerancePx) + " px; --pick " +
         pickName(r.options.pick) + "\n";
}

std::string formatText(const EvalReport& r) {
  std::string out = renderText(imageTable(r)) + "\n" + renderText(summaryTable(r.overall));
  if (!r.groups.empty()) out += "\n" + renderText(groupTable(r.groups));
  return out + "\n" + settingsLine(r);
}

std::string formatMarkdown(const EvalReport& r) {
  std::string out = "### Summary\n\n" + renderMarkdown(summaryTable(r.overall)) + "\n" + settingsLine(r);
  if (!r.groups.empty()) out += "\n### Per group\n\n" + renderMarkdown(groupTable(r.groups));
  return out + "\n### Per image\n\n" + renderMarkdown(imageTable(r));
}

std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csvRow(const std::vector<std::string>& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csvField(cells[i]);
  return out + "\n";
}

std::string formatCsv(const EvalReport& r) {
  std::string out = csvRow({"level", "image", "group", "count", "iou", "dice", "boundary_f", "gt_area", "pred_area", "status"});
  for (const auto& img : r.images) {
    const bool scored = img.status == ImageResult::Status::Scored;
    const bool skipped = img.status == ImageResult::Status::Skipped;
    const auto metric = [&](double v) { return skipped ? std::string() : exactNumber(v); };
    out += csvRow({"image", img.name, img.group, "", metric(img.scores.iou), metric(img.scores.dice),
                   metric(img.scores.boundaryF), std::to_string(img.gtArea), scored ? std::to_string(img.predArea) : "",
                   statusName(img.status)});
  }
  const auto means = [](const char* level, const std::string& group, const MetricSummaries& m) {
    return csvRow({level, "", group, std::to_string(m.iou.count), exactNumber(m.iou.mean), exactNumber(m.dice.mean),
                   exactNumber(m.boundaryF.mean), "", "", ""});
  };
  for (const auto& g : r.groups) out += means("group", g.group, g.metrics);
  return out + means("all", "", r.overall);
}

nlohmann::ordered_json summaryJson(const Summary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"median", s.median}, {"min", s.min}, {"max", s.max}};
}

void addMetrics(nlohmann::ordered_json& j, const MetricSummaries& m) {
  j["iou"] = summaryJson(m.iou);
  j["dice"] = summaryJson(m.dice);
  j["boundary_f"] = summaryJson(m.boundaryF);
}

}  // namespace

EvalReport summarizeResults(std::vector<ImageResult> images, const EvalOptions& options) {
  std::sort(images.begin(), images.end(), [](const ImageResult& a, const ImageResult& b) { return a.name < b.name; });
  EvalReport report;
  report.options = options;
  report.images = std::move(images);
  std::vector<const ImageResult*> all;
  std::map<std::string, std::vector<const ImageResult*>> byGroup;
  bool anyGroup = false;
  for (const auto& r : report.images) {
    all.push_back(&r);
    byGroup[r.group].push_back(&r);
    anyGroup = anyGroup || !r.group.empty();
    report.missing += r.status == ImageResult::Status::Missing;
    report.skipped += r.status == ImageResult::Status::Skipped;
  }
  report.overall = summarizeMetrics(all);
  if (anyGroup) {
    for (const auto& [group, members] : byGroup) report.groups.push_back({group, summarizeMetrics(members)});
  }
  return report;
}

nlohmann::ordered_json reportToJson(const EvalReport& r) {
  nlohmann::ordered_json j;
  j["tool"] = "sam-eval";
  j["pred"] = r.options.predPath;
  j["gt"] = r.options.gtPath;
  j["settings"] = {{"pick", pickName(r.options.pick)},
                   {"boundary_tolerance", r.options.boundaryTolerancePx},
                   {"skip_missing", r.options.skipMissing},
                   {"per_category", r.options.perCategory}};
  nlohmann::ordered_json summary = {{"images", r.images.size()}, {"missing", r.missing}, {"skipped", r.skipped}};
  addMetrics(summary, r.overall);
  j["summary"] = summary;
  j["groups"] = nlohmann::ordered_json::array();
  for (const auto& g : r.groups) {
    nlohmann::ordered_json group = {{"group", g.group}};
    addMetrics(group, g.metrics);
    j["groups"].push_back(group);
  }
  j["images"] = nlohmann::ordered_json::array();
  for (const auto& img : r.images) {
    const bool skipped = img.status == ImageResult::Status::Skipped;
    nlohmann::ordered_json e = {{"image", img.name}, {"group", img.group}, {"status", statusName(img.status)}};
    e["iou"] = skipped ? nlohmann::ordered_json() : nlohmann::ordered_json(img.scores.iou);
    e["dice"] = skipped ? nlohmann::ordered_json() : nlohmann::ordered_json(img.scores.dice);
    e["boundary_f"] = skipped ? nlohmann::ordered_json() : nlohmann::ordered_json(img.scores.boundaryF);
    e["gt_area"] = img.gtArea;
    e["pred_area"] = img.status == ImageResult::Status::Scored ? nlohmann::ordered_json(img.predArea) : nullptr;
    j["images"].push_back(e);
  }
  return j;
}

std::string formatReport(const EvalReport& report, ReportFormat format) {
  switch (format) {
    case ReportFormat::Text:
      return formatText(report);
    case ReportFormat::Csv:
      return formatCsv(report);
    case ReportFormat::Json:
      // NaN (nothing scored) is written as null, which JSON can hold.
      return dumpJson(reportToJson(report));
    case ReportFormat::Markdown:
      return formatMarkdown(report);
  }
  return "";
}

BaselineMeans baselineFromJson(const nlohmann::json& report, const std::string& source) {
  const auto notAReport = [&](const std::string& what) {
    return Error("baseline '" + source + "' is not a sam-eval --format json report (" + what + ")");
  };
  const auto mean = [](const nlohmann::json& j) -> std::optional<double> {
    if (!j.is_object() || !j.contains("iou") || !j["iou"].is_object()) return std::nullopt;
    const auto it = j["iou"].find("mean");
    if (it == j["iou"].end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  if (!report.is_object() || !report.contains("summary")) throw notAReport("no \"summary\"");
  const auto overall = mean(report["summary"]);
  if (!overall) throw notAReport("no number at summary.iou.mean; did that run score nothing?");
  BaselineMeans out;
  out.meanIou = *overall;
  for (const auto& g : report.value("groups", nlohmann::json::array())) {
    if (!g.is_object() || !g.contains("group") || !g["group"].is_string()) throw notAReport("a group without a name");
    // A group that scored nothing then has no mean to regress from.
    if (const auto m = mean(g)) out.groupMeanIou[g["group"].get<std::string>()] = *m;
  }
  return out;
}

BaselineMeans readBaseline(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error("cannot read baseline '" + path + "': no such file");
  return baselineFromJson(readJsonFile(path), path);
}

std::vector<std::string> checkGates(const EvalReport& report, const GateOptions& gates,
                                    const std::optional<BaselineMeans>& baseline) {
  // Means and differences carry rounding error (0.55 - 0.5 > 0.05 in doubles); a gate set at exactly
  // the achieved value must pass.
  constexpr double kRounding = 1e-9;
  std::vector<std::string> failures;
  if (!gates.minMeanIou && !gates.maxRegression) return failures;
  const Summary& iou = report.overall.iou;
  if (iou.count == 0) {
    failures.push_back("no image was scored (" + std::to_string(report.skipped) +
                       " without prediction skipped), so no gate can pass");
    return failures;
  }
  if (gates.minMeanIou && iou.mean < *gates.minMeanIou - kRounding) {
    failures.push_back("mean IoU " + shortNumber(iou.mean) + " is below --min-miou " + shortNumber(*gates.minMeanIou) +
                       " (" + std::to_string(iou.count) + " images)");
  }
  if (!gates.maxRegression || !baseline) return failures;
  const double allowed = *gates.maxRegression;
  const auto regression = [&](const std::string& what, double now, double before) {
    if (before - now > allowed + kRounding) {
      failures.push_back(what + "mean IoU " + shortNumber(now) + " dropped " + shortNumber(before - now) +
                         " from the baseline's " + shortNumber(before) + " (--max-regression " + shortNumber(allowed) + ")");
    }
  };
  regression("", iou.mean, baseline->meanIou);
  for (const auto& g : report.groups) {
    const auto before = baseline->groupMeanIou.find(g.group);
    if (before == baseline->groupMeanIou.end() || g.metrics.iou.count == 0) continue;
    regression("group '" + groupLabel(g.group) + "': ", g.metrics.iou.mean, before->second);
  }
  return failures;
}

}  // namespace samcli
