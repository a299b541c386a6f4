using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Application;

/// <summary>
/// Who is calling, whichever door they came through: the subject (a person's user name, or a site system's client
/// id), one role, and the sites served. Doors establish it from a validated token; use cases decide what it may do.
/// </summary>
public sealed record Caller(string Subject, TrialRole Role, IReadOnlySet<string> Sites)
{
    public bool Serves(string siteCode) => Sites.Contains(siteCode);

    /// <summary>Whether this caller may see a participant of <paramref name="siteCode"/>: site roles only their own sites.</summary>
    public bool MaySee(string siteCode) => !TrialRoles.IsSiteRole(Role) || Serves(siteCode);

    /// <summary>The caller as the audit trail and the records name them.</summary>
    public Domain.Actor Actor => new(Subject, TrialRoles.ClaimValue(Role));
}
