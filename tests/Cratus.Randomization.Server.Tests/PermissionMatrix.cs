using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Server.Tests;

/// <summary>
/// Who may call what, written out by hand from DOMAIN.md's "Who sees what", independently of the server's own
/// declarations (the [Permitted] attribute of each use case), so that a test comparing the two can fail. "X" allows,
/// "-" denies; "anonymous" methods need no token at all.
/// </summary>
internal static class PermissionMatrix
{
    private static readonly TrialRole[] Columns =
        [TrialRole.SiteCoordinator, TrialRole.Investigator, TrialRole.Pharmacist, TrialRole.Statistician, TrialRole.DsmbMember, TrialRole.Monitor, TrialRole.Administrator, TrialRole.SiteSystem, TrialRole.QualityAssurance];

    private const string P = "/cratus.randomization.v1.";

    //                                                                  Coord Inv  Pharm Stat DSMB Mon  Admin System
    private static readonly (string Method, string Row)[] Rows =
    [
        (P + "RandomizationService/Randomize",                           "X    X    -     -    -    -    -  X"),
        (P + "RandomizationService/GetAssignment",                       "X    X    X     X    -    X    -  X"),
        (P + "PharmacyService/GetDoseOrder",                             "-    -    X     -    -    -    -  -"),
        (P + "PharmacyService/RecordPreparation",                        "-    -    X     -    -    -    -  -"),
        (P + "PharmacyService/VerifyPreparation",                        "-    -    X     -    -    -    -  -"),
        (P + "PharmacyService/GetPreparation",                           "-    -    X     -    -    -    -  -"),
        (P + "PharmacyService/GetLabel",                                 "-    -    X     -    -    -    -  -"),
        (P + "PharmacyService/DispatchDose",                             "-    -    X     -    -    -    -  -"),
        (P + "PharmacyService/ReturnDose",                               "-    -    X     -    -    -    -  -"),
        (P + "PharmacyService/DestroyDose",                              "-    -    X     -    -    -    -  -"),
        (P + "InfusionService/VerifyAtBedside",                          "X    X    -     -    -    -    -  X"),
        (P + "TrialService/GetTrial",                                    "X    X    X     X    X    X    X  X"),
        (P + "TrialService/GetScheduleCommitment",                       "X    X    X     X    X    X    X  X"),
        (P + "ScheduleService/GenerateSchedule",                         "-    -    -     X    -    -    -  -"),
        (P + "ScheduleService/ImportSchedule",                           "-    -    -     X    -    -    -  -"),
        (P + "ScheduleService/AmendSchedule",                            "-    -    -     X    -    -    -  -"),
        (P + "DoseEscalationService/EnrollInCohort",                     "X    X    -     -    -    -    -  X"),
        (P + "DoseEscalationService/RecordDsmbDecision",                 "-    -    -     -    X    -    -  -"),
        (P + "DoseEscalationService/GetEscalationStatus",                "X    X    X     X    X    X    X  X"),
        (P + "ParticipantService/ListParticipants",                      "X    X    -     X    -    X    -  X"),
        (P + "ParticipantService/GetParticipant",                        "X    X    -     X    -    X    -  X"),
        (P + "ParticipantService/RecordInfusion",                        "X    X    X     -    -    -    -  X"),
        (P + "ParticipantService/ReportSafetyEvent",                     "X    X    -     -    -    -    -  X"),
        (P + "ParticipantService/RecordWithdrawal",                      "X    X    -     -    -    -    -  X"),
        (P + "ParticipantService/MarkRandomizedInError",                 "-    X    -     -    -    -    -  -"),
        (P + "ParticipantService/ListSafetyEvents",                      "X    X    -     X    X    X    -  X"),
        (P + "UnblindingService/EmergencyUnblind",                       "-    X    -     -    -    -    -  -"),
        (P + "UnblindingService/RequestUnblinding",                      "-    -    -     X    -    -    -  -"),
        (P + "UnblindingService/ApproveUnblinding",                      "-    -    -     X    -    -    -  -"),
        (P + "UnblindingService/ListUnblindingRequests",                 "-    -    -     X    X    -    -  -"),
        (P + "UnblindingService/GetUnblindedAllocations",                "-    -    -     X    X    -    -  -"),
        (P + "ExportService/ExportParticipants",                         "-    -    -     X    -    X    -  -"),
        (P + "AuditService/ListAuditEvents",                             "-    -    -     X    -    X    -  -"),
        (P + "AuditService/VerifyAuditTrail",                            "-    -    -     X    -    X    -  -"),
        (P + "AuditService/VerifyAllocations",                           "-    -    -     X    -    X    -  -"),
        (P + "IdentityService/BeginTotpEnrollment",                      "X    X    X     X    X    X    X  -"),
        (P + "IdentityService/ConfirmTotpEnrollment",                    "X    X    X     X    X    X    X  -"),
        (P + "IdentityService/ChangePassword",                           "X    X    X     X    X    X    X  -"),
        (P + "SignatureService/Reauthenticate",                          "X    X    X     X    X    X    X  -"),
        (P + "AdministrationService/CreateUser",                         "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/ListUsers",                          "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/UpdateUser",                         "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/CreateSite",                         "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/ListSites",                          "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/UpdateSite",                         "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/RegisterSiteSystem",                 "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/RotateSiteSystemSecret",             "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/RevokeSiteSystem",                   "-    -    -     -    -    -    X  -"),
        (P + "AdministrationService/ListSiteSystems",                    "-    -    -     -    -    -    X  -"),
        (P + "RehearsalService/GetTrialClock",                           "X    X    X     X    X    X    X  X"),
        (P + "RehearsalService/AdvanceTrialClock",                       "-    -    -     -    -    -    X  -"),
        // Rows with a ninth cell give quality assurance's column (QA); an eight-cell row takes it from QualityAssurance below.
        //                                                               Coord Inv  Pharm Stat DSMB Mon  Admin System QA
        (P + "InventoryService/RegisterLot",                             "-    -    X     -    -    -    -  -  -"),
        (P + "InventoryService/ReleaseLot",                              "-    -    -     -    -    -    -  -  X"),
        (P + "InventoryService/QuarantineLot",                           "-    -    -     -    -    -    -  -  X"),
        (P + "InventoryService/ReportExcursion",                         "-    -    X     -    -    -    -  -  X"),
        (P + "InventoryService/ReturnUnit",                              "-    -    X     -    -    -    -  -  -"),
        (P + "InventoryService/DestroyUnit",                             "-    -    X     -    -    -    -  -  -"),
        (P + "InventoryService/ListLots",                                "-    -    X     -    -    X    -  -  X"),
        (P + "InventoryService/GetLot",                                  "-    -    X     -    -    X    -  -  X"),
        (P + "ChainOfCustodyService/GetProductHistory",                  "X    X    X     -    -    X    -  -  X"),
    ];

    /// <summary>Methods anyone may call without a token: health, and creating the first administrator.</summary>
    public static readonly IReadOnlySet<string> Anonymous = new HashSet<string>(StringComparer.Ordinal)
    {
        "/grpc.health.v1.Health/Check",
        P + "IdentityService/BootstrapAdministrator",
    };

    /// <summary>
    /// Quality assurance (blinded, like a monitor) in the rows written before its column: what any signed-in person may
    /// call (the trial, the commitment, escalation status, the trial clock), its own account, and signing.
    /// </summary>
    private static readonly IReadOnlySet<string> QualityAssurance = new HashSet<string>(StringComparer.Ordinal)
    {
        P + "TrialService/GetTrial", P + "TrialService/GetScheduleCommitment", P + "DoseEscalationService/GetEscalationStatus",
        P + "RehearsalService/GetTrialClock", P + "IdentityService/BeginTotpEnrollment", P + "IdentityService/ConfirmTotpEnrollment",
        P + "IdentityService/ChangePassword", P + "SignatureService/Reauthenticate",
    };

    public static readonly IReadOnlyDictionary<string, IReadOnlySet<TrialRole>> Allowed = Rows.ToDictionary(
        r => r.Method,
        r =>
        {
            var cells = r.Row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var allowed = cells.Select((cell, i) => (cell, Columns[i])).Where(x => x.cell == "X").Select(x => x.Item2).ToHashSet();
            if (cells.Length < Columns.Length && QualityAssurance.Contains(r.Method)) allowed.Add(TrialRole.QualityAssurance);
            return (IReadOnlySet<TrialRole>)allowed;
        },
        StringComparer.Ordinal);

    public static bool Allows(string method, TrialRole role) => Allowed.TryGetValue(method, out var roles) && roles.Contains(role);

    /// <summary>Server reflection describes the API only: any signed-in caller.</summary>
    public static bool IsReflection(string method) => method.StartsWith("/grpc.reflection.", StringComparison.Ordinal);
}
