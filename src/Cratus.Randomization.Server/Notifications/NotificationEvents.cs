using static Cratus.Randomization.Server.Notifications.NotificationAudience;

namespace Cratus.Randomization.Server.Notifications;

/// <summary>
/// The events that are announced, and who may hear of each: one place for the rule. No message carries an arm, a dose
/// or a cell count, whoever receives it, so an unblinded audience gets the same text as a blinded one; the table
/// decides only who is told. Site roles hear of their own site's events and of trial-wide ones.
/// </summary>
public static class NotificationEvents
{
    public const string ParticipantRandomized = "participant.randomized";
    public const string EmergencyUnblinding = "unblinding.emergency";
    public const string SafetyEventReported = "safety_event.reported";
    public const string SafetyHold = "safety.hold";
    public const string DsmbDecision = "dsmb.decision";
    public const string UnblindingRequested = "unblinding.requested";
    public const string UnblindingApproved = "unblinding.approved";
    public const string UnblindingApprovalExpired = "unblinding.approval_expired";
    public const string SafetyWindowClosing = "safety_window.closing";
    public const string BedsideRefused = "bedside.refused";
    public const string ProductQuarantined = "product.quarantined";

    private static readonly Dictionary<string, NotificationAudience[]> Audiences = new(StringComparer.Ordinal)
    {
        [ParticipantRandomized] = [SiteCoordinator, Investigator, NotificationAudience.Monitor, Sponsor],
        // DOMAIN.md: statisticians and the sponsor are told; the DSMB too. Never the arm.
        [EmergencyUnblinding] = [Statistician, Sponsor, DsmbMember],
        [SafetyEventReported] = [SiteCoordinator, Investigator, DsmbMember, NotificationAudience.Monitor, Sponsor],
        [SafetyHold] = [SiteCoordinator, Investigator, DsmbMember, NotificationAudience.Monitor, Sponsor, Statistician],
        [DsmbDecision] = [SiteCoordinator, Investigator, DsmbMember, NotificationAudience.Monitor, Sponsor, Statistician],
        // Controlled unblinding is the statisticians' business; the DSMB hears of the aggregates it is granted.
        [UnblindingRequested] = [Statistician],
        [UnblindingApproved] = [Statistician, DsmbMember],
        [UnblindingApprovalExpired] = [Statistician, DsmbMember],
        [SafetyWindowClosing] = [SiteCoordinator, Investigator, DsmbMember, Sponsor],
        // A bag refused at the bedside: the pharmacy acts on it, the sponsor is told. Never the arm (the message is the refusal's).
        [BedsideRefused] = [Pharmacist, Sponsor],
        // A lot or unit taken out of use: the pharmacy recalls any bag already made from it (the bedside does not read
        // lots, as a placebo bag has none). The message names the lot or unit only, never a dose or participant.
        [ProductQuarantined] = [Pharmacist],
    };

    /// <summary>Every event name, for validating configuration.</summary>
    public static IReadOnlyCollection<string> All => Audiences.Keys;

    /// <summary>Whether <paramref name="audience"/> may hear of <paramref name="eventName"/> at all.</summary>
    public static bool MayHear(string eventName, NotificationAudience audience) =>
        Audiences.TryGetValue(eventName, out var audiences) && audiences.Contains(audience);
}
