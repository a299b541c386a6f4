using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Notifications;
using Cratus.Randomization.Server.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Application.Notifications;

/// <summary>An audit event as it is appended: what the composer decides from.</summary>
public sealed record AuditedEvent(long Sequence, DateTimeOffset At, AuditActor Actor, string Action, string Target, string Site, string Reason);

/// <summary>A message before it is addressed: what is announced, about which site (empty: trial-wide), and its facts.</summary>
internal sealed record Announcement(string Event, string Key, string Site, string Subject, IReadOnlyList<(string Label, string Value)> Facts,
    Func<NotificationAudience, bool>? AlsoOnly = null);

/// <summary>
/// Decides, for each audited change, whether and what to announce, and adds one outbox message per recipient in the
/// same transaction (<see cref="AuditTrail.AppendAsync"/> calls it): the change and its announcement commit together
/// or not at all, with no edit in any use case. The facts come from the audit event and from the records the change
/// added in this unit of work; none of them is ever an arm, a dose or a cell count (the composer never reads the
/// schedule's arms), so the same message is safe for every recipient. Time-based events (an approval expired, a Phase I
/// safety window about to close) are announced by <see cref="AnnounceDueAsync"/>, once each.
/// </summary>
public sealed class NotificationComposer(TrialDbContext db, TrialDefinition trial, TimeProvider clock, IOptions<NotificationOptions> options,
    IOptions<TrialOptions> trialOptions, OutboxSignal signal)
{
    private NotificationOptions Options => options.Value;

    /// <summary>Adds the outbox messages that announce <paramref name="audited"/>, if anyone is to hear of it.</summary>
    public async Task ComposeAsync(AuditedEvent audited, CancellationToken ct)
    {
        if (Options.Recipients.Count == 0) return;
        foreach (var announcement in await AnnouncementsOfAsync(audited, ct)) Address(announcement, audited.At, existing: null);
    }

    private async Task<IReadOnlyList<Announcement>> AnnouncementsOfAsync(AuditedEvent e, CancellationToken ct)
    {
        var key = $"audit:{e.Sequence}";
        switch (e.Action)
        {
            case AuditActions.ParticipantRandomized:
            {
                var participant = Added<Participant>().SingleOrDefault(p => p.ParticipantId == e.Target);
                // The entry is usually tracked already (the randomization claimed it); else one read of its number, never its arm.
                var number = participant?.ScheduleEntryId is { } entryId
                    ? db.ScheduleEntries.Local.FirstOrDefault(x => x.Id == entryId)?.RandomizationNumber
                      ?? await db.ScheduleEntries.AsNoTracking().Where(x => x.Id == entryId).Select(x => x.RandomizationNumber).SingleOrDefaultAsync(ct)
                    : null;
                return [new(NotificationEvents.ParticipantRandomized, key, e.Site, $"Participant {e.Target} randomized at site {e.Site}",
                    [("Participant", e.Target), ("Site", e.Site), ("Randomization number", number ?? ""), ("Randomized at", Time(e.At)), ("Randomized by", e.Actor.User)])];
            }
            case AuditActions.EmergencyUnblinding:
                return [new(NotificationEvents.EmergencyUnblinding, key, e.Site, $"Emergency unblinding of participant {e.Target} at site {e.Site}",
                    [("Participant", e.Target), ("Site", e.Site), ("Unblinded at", Time(e.At)), ("Unblinded by", e.Actor.User), ("Reason", e.Reason),
                     ("Note", "The treatment was shown to the unblinding investigator only; it is not in this message.")])];
            case AuditActions.SafetyEventReported:
            {
                var safety = Added<SafetyEventRecord>().LastOrDefault(s => s.ParticipantId == e.Target);
                if (safety is null) return [];
                var facts = new List<(string, string)>
                {
                    ("Participant", e.Target), ("Site", e.Site), ("Event", Words(safety.Type.ToString())),
                    ("Onset", safety.Onset.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)), ("Serious", safety.Serious ? "yes" : "no"),
                    ("Treatment-emergent", safety.TreatmentEmergent ? "yes" : "no"), ("Reported at", Time(e.At)), ("Reported by", e.Actor.User),
                };
                var reported = new Announcement(NotificationEvents.SafetyEventReported, key, e.Site, $"Serious adverse event reported for participant {e.Target}", facts);
                // The automatic hold is Phase I's rule (ReportSafetyEvent): a Phase II event holds nothing, so announces no hold.
                return safety.TreatmentEmergent && await PhaseOfAsync(e.Target, ct) == TrialPhase.DoseEscalation
                    ? [reported, new(NotificationEvents.SafetyHold, key, "", "Enrolment on hold: treatment-emergent serious adverse event",
                        [.. facts, ("Enrolment", "All enrolment is on hold until the DSMB records a decision (continue, hold or stop).")])]
                    : [reported];
            }
            case AuditActions.DsmbDecision:
            {
                var decision = Added<DsmbDecisionRecord>().LastOrDefault();
                if (decision is null) return [];
                return [new(NotificationEvents.DsmbDecision, key, "", $"DSMB decision: {Words(decision.Kind.ToString())} (cohort {decision.Cohort})",
                    [("Decision", Words(decision.Kind.ToString())), ("Cohort", decision.Cohort.ToString(CultureInfo.InvariantCulture)),
                     ("Decided at", Time(e.At)), ("Decided by", e.Actor.User), ("Reason", decision.Reason)])];
            }
            case AuditActions.UnblindingRequested:
            case AuditActions.UnblindingApproved:
            {
                var request = db.UnblindingRequests.Local.SingleOrDefault(r => r.RequestId == e.Target);
                if (request is null) return [];
                var requested = e.Action == AuditActions.UnblindingRequested;
                return [new(requested ? NotificationEvents.UnblindingRequested : NotificationEvents.UnblindingApproved, key, "",
                    requested ? $"Unblinding request {request.RequestId} awaits a second statistician's approval" : $"Unblinding request {request.RequestId} approved",
                    [.. RequestFacts(request), (requested ? "Requested by" : "Approved by", e.Actor.User), (requested ? "Requested at" : "Approved at", Time(e.At)),
                     ("Expires at", request.ExpiresAt is { } expires ? Time(expires) : "")], ForScope(request))];
            }
            case AuditActions.BedsideRefused:
                // The facts are the audit event's: participant, site, who and when, and the refusal as the site saw it.
                return [new(NotificationEvents.BedsideRefused, key, e.Site, $"Bag refused at the bedside for participant {e.Target} at site {e.Site}",
                    [("Participant", e.Target), ("Site", e.Site), ("Refused at", Time(e.At)), ("Scanned by", e.Actor.User), ("Refusal", e.Reason),
                     ("Note", "The bag was not infused. The pharmacy checks the bag and the participant's dose.")])];
            case AuditActions.LotQuarantined:
            case AuditActions.LotExcursionReported:
            case AuditActions.UnitExcursionReported:
            {
                var what = e.Action == AuditActions.UnitExcursionReported ? "Unit" : "Lot";
                return [new(NotificationEvents.ProductQuarantined, key, "", $"{what} {e.Target} taken out of use",
                    [(what, e.Target), ("Reason", e.Reason), ("Recorded at", Time(e.At)), ("Recorded by", e.Actor.User),
                     ("Note", "Bags already prepared from it are not stopped at the bedside. Find them in the pharmacy (product history of its units) and recall any not yet infused (return the dose).")])];
            }
            default:
                return [];
        }
    }

    /// <summary>
    /// Announces what time has brought due, once each (the message id is derived from the fact, and a unique index keeps
    /// a second node from adding it again): approvals that have expired, and Phase I safety windows closing within
    /// <see cref="NotificationOptions.SafetyWindowClosingNotice"/>. Answers how many messages it added.
    /// </summary>
    public async Task<int> AnnounceDueAsync(CancellationToken ct)
    {
        if (Options.Recipients.Count == 0) return 0;
        var now = clock.GetUtcNow();
        var announcements = new List<(Announcement, DateTimeOffset)>();
        var approved = await db.UnblindingRequests.AsNoTracking().Where(r => r.ApprovedAt != null && r.ExpiresAt != null).ToListAsync(ct);
        foreach (var request in approved.Where(r => r.ExpiresAt <= now))
            announcements.Add((new(NotificationEvents.UnblindingApprovalExpired, $"expired:{request.RequestId}", "",
                $"Unblinding approval {request.RequestId} expired",
                [.. RequestFacts(request), ("Expired at", Time(request.ExpiresAt!.Value)), ("Note", "A new request is needed to read the allocations again.")],
                ForScope(request)), request.ExpiresAt!.Value));
        if (trial.DoseEscalation is { } escalation)
        {
            var window = TimeSpan.FromDays(escalation.SafetyWindowDays);
            var infused = await db.Participants.AsNoTracking()
                .Where(p => p.Phase == TrialPhase.DoseEscalation && p.InfusedAt != null && p.WithdrawnAt == null)
                .Select(p => new { p.ParticipantId, p.SiteCode, p.Cohort, p.InfusedAt }).ToListAsync(ct);
            foreach (var p in infused)
            {
                var closes = p.InfusedAt!.Value + window;
                if (now < closes - Options.SafetyWindowClosingNotice || now >= closes) continue;
                announcements.Add((new(NotificationEvents.SafetyWindowClosing, $"window:{p.ParticipantId}", p.SiteCode,
                    $"Safety window of participant {p.ParticipantId} closes {Time(closes)}",
                    [("Participant", p.ParticipantId), ("Site", p.SiteCode), ("Cohort", p.Cohort?.ToString(CultureInfo.InvariantCulture) ?? ""),
                     ("Infused at", Time(p.InfusedAt.Value)), ("Safety window closes at", Time(closes)),
                     ("Note", "Report any serious adverse event with onset inside the window before it closes.")]), now));
            }
        }
        if (announcements.Count == 0) return 0;
        return await db.InTransactionAsync(async t =>
        {
            var ids = announcements.SelectMany(a => Recipients(a.Item1).Select(r => MessageIdOf(a.Item1, r))).ToList();
            var existing = (await db.Set<OutboxMessageRecord>().AsNoTracking().Where(m => ids.Contains(m.MessageId)).Select(m => m.MessageId).ToListAsync(t))
                .ToHashSet(StringComparer.Ordinal);
            return announcements.Sum(a => Address(a.Item1, a.Item2, existing));
        }, ct);
    }

    private int Address(Announcement a, DateTimeOffset occurredAt, HashSet<string>? existing)
    {
        var added = 0;
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var recipient in Recipients(a))
        {
            var messageId = MessageIdOf(a, recipient);
            if (existing is not null && !existing.Add(messageId)) continue;
            var email = !string.IsNullOrWhiteSpace(recipient.Email);
            db.Set<OutboxMessageRecord>().Add(new OutboxMessageRecord
            {
                MessageId = messageId,
                Event = a.Event,
                Recipient = recipient.Name,
                Channel = email ? NotificationChannel.Email : NotificationChannel.Webhook,
                Address = email ? recipient.Email!.Trim() : recipient.Webhook!.Trim(),
                Site = a.Site,
                Subject = SubjectOf(a),
                Body = BodyOf(a, messageId),
                Payload = PayloadOf(a, messageId, occurredAt),
                CreatedAtUnixMilliseconds = now,
                NextAttemptAtUnixMilliseconds = now,
            });
            added++;
        }
        if (added > 0) db.AfterCommit(signal.Wake);
        return added;
    }

    /// <summary>The recipients of <paramref name="a"/>: their audience may hear of it, they asked for it (or for everything),
    /// and it is trial-wide or of their site.</summary>
    private IEnumerable<NotificationRecipient> Recipients(Announcement a) => Options.Recipients.Where(r =>
        r.Audience is { } audience && NotificationEvents.MayHear(a.Event, audience) && (a.AlsoOnly?.Invoke(audience) ?? true)
        && (r.Events.Count == 0 || r.Events.Contains(a.Event, StringComparer.Ordinal))
        && (string.IsNullOrWhiteSpace(r.Site) || a.Site.Length == 0 || string.Equals(r.Site.Trim(), a.Site, StringComparison.Ordinal)));

    private string MessageIdOf(Announcement a, NotificationRecipient r) =>
        "N-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{trial.TrialId}|{a.Key}|{a.Event}|{r.Name}")))[..40];

    private string SubjectOf(Announcement a)
    {
        var mode = trialOptions.Value.Mode;
        var subject = $"[{trial.TrialId}{(mode == TrialMode.Production ? "" : " " + mode.ToString().ToUpperInvariant())}] {a.Subject}";
        return subject.Length <= 300 ? subject : subject[..300];
    }

    private string BodyOf(Announcement a, string messageId)
    {
        var text = new StringBuilder().Append(a.Subject).Append('.').Append("\n\n");
        foreach (var (label, value) in a.Facts.Where(f => f.Value.Length > 0)) text.Append(label).Append(": ").Append(value).Append('\n');
        text.Append("\nTrial: ").Append(trial.TrialId).Append(" (").Append(trialOptions.Value.Mode).Append(")\nMessage id: ").Append(messageId)
            .Append("\nSent by the CRATUS randomization service. This message never states a treatment.\n");
        return Clip(text.ToString());
    }

    private string PayloadOf(Announcement a, string messageId, DateTimeOffset occurredAt) => Clip(JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["eventId"] = messageId,
        ["event"] = a.Event,
        ["trialId"] = trial.TrialId,
        ["mode"] = trialOptions.Value.Mode.ToString(),
        ["site"] = a.Site,
        ["occurredAt"] = occurredAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
        ["subject"] = a.Subject,
        ["facts"] = a.Facts.Where(f => f.Value.Length > 0).ToDictionary(f => f.Label, f => f.Value),
    }));

    private static string Clip(string text) => text.Length <= 8000 ? text : text[..8000];

    /// <summary>The phase of <paramref name="participantId"/>: from the participant this unit of work holds, else one read.</summary>
    private async Task<TrialPhase> PhaseOfAsync(string participantId, CancellationToken ct) =>
        db.Participants.Local.FirstOrDefault(p => p.ParticipantId == participantId)?.Phase
        ?? await db.Participants.AsNoTracking().Where(p => p.ParticipantId == participantId).Select(p => p.Phase).SingleAsync(ct);

    private IEnumerable<T> Added<T>() where T : class =>
        db.ChangeTracker.Entries<T>().Where(x => x.State == EntityState.Added).Select(x => x.Entity);

    private static IEnumerable<(string, string)> RequestFacts(UnblindingRequest request) =>
    [
        ("Request", request.RequestId), ("Scope", Words(request.Scope.ToString())), ("Participant", request.ParticipantId ?? ""),
        ("Reason", request.Reason),
    ];

    /// <summary>The DSMB hears only of the aggregate requests it may be granted.</summary>
    private static Func<NotificationAudience, bool> ForScope(UnblindingRequest request) =>
        audience => audience != NotificationAudience.DsmbMember || request.Scope == UnblindingScope.DsmbAggregate;

    private static string Time(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>"TreatmentEmergent" as "treatment emergent": enum names as words.</summary>
    private static string Words(string name) =>
        string.Concat(name.Select((c, i) => i > 0 && char.IsUpper(c) ? " " + char.ToLowerInvariant(c) : (i == 0 ? char.ToUpperInvariant(c) : c).ToString()));
}
