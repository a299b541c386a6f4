namespace Cratus.Randomization.Server.Security;

/// <summary>The roles of DOMAIN.md's "Who sees what" table. The claim value is the snake_case name.</summary>
public enum TrialRole
{
    SiteCoordinator,
    Investigator,
    Pharmacist,
    Statistician,
    DsmbMember,
    Monitor,
    Administrator,
    /// <summary>A site's own system (EDC, IWRS) signed in with client credentials: enrols, randomizes and records
    /// events at its sites, blinded, like a site coordinator; never breaks the blind.</summary>
    SiteSystem,
    /// <summary>Quality assurance: releases and quarantines product lots (signed); blinded, never sees an arm.</summary>
    QualityAssurance,
}

public static class TrialRoles
{
    private static readonly Dictionary<string, TrialRole> ByClaim = Enum.GetValues<TrialRole>().ToDictionary(ClaimValue, r => r, StringComparer.Ordinal);

    public static string ClaimValue(TrialRole role) => role switch
    {
        TrialRole.SiteCoordinator => "site_coordinator",
        TrialRole.Investigator => "investigator",
        TrialRole.Pharmacist => "pharmacist",
        TrialRole.Statistician => "statistician",
        TrialRole.DsmbMember => "dsmb_member",
        TrialRole.Monitor => "monitor",
        TrialRole.Administrator => "administrator",
        TrialRole.SiteSystem => "site_system",
        TrialRole.QualityAssurance => "quality_assurance",
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    /// <summary>The role as people say it: "Site coordinator", "DSMB member".</summary>
    public static string Title(TrialRole role) => role switch
    {
        TrialRole.SiteCoordinator => "Site coordinator",
        TrialRole.DsmbMember => "DSMB member",
        TrialRole.SiteSystem => "Site system",
        TrialRole.QualityAssurance => "Quality assurance",
        _ => role.ToString(),
    };

    public static bool TryParse(string? claim, out TrialRole role) => ByClaim.TryGetValue(claim ?? "", out role);

    /// <summary>Roles that work at sites, are blinded, and only ever see their own sites' participants.</summary>
    public static bool IsSiteRole(TrialRole role) => role is TrialRole.SiteCoordinator or TrialRole.Investigator or TrialRole.SiteSystem;

    /// <summary>Roles that never see which arm a Phase II participant is in (an investigator's own emergency unblinding
    /// aside): the sites, their systems, monitors, administrators and quality assurance.</summary>
    public static bool IsBlindedToArms(TrialRole role) =>
        role is TrialRole.SiteCoordinator or TrialRole.Investigator or TrialRole.SiteSystem or TrialRole.Monitor or TrialRole.Administrator
            or TrialRole.QualityAssurance;

    /// <summary>Roles a person's account can hold (site systems are clients, registered apart).</summary>
    public static bool IsPersonRole(TrialRole role) => role != TrialRole.SiteSystem;
}
