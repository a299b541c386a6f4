using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Application;
using Cratus.Randomization.Server.Security;
using MudBlazor;

namespace Cratus.Randomization.Server.Web;

/// <summary>A page of the web application as the menu offers it: open to the roles its use case permits.</summary>
public sealed record WebPage(string Address, string Title, string Icon, Type UseCase)
{
    public bool OpenTo(TrialRole role) => Permissions.Of(UseCase).Allows(role);
}

/// <summary>The menu: every page a role opens from it, in the order people use them (detail pages are reached from these).</summary>
public static class WebPages
{
    public static IReadOnlyList<WebPage> All { get; } =
    [
        new("/", "Overview", Icons.Material.Filled.Dashboard, typeof(Application.Schedule.GetTrial)),
        new("/participants", "Participants", Icons.Material.Filled.People, typeof(Application.Participants.ListParticipants)),
        new("/enrol", "Enrol (Phase I)", Icons.Material.Filled.PersonAdd, typeof(Application.Participants.EnrolInCohort)),
        new("/randomize", "Randomize (Phase II)", Icons.Material.Filled.Shuffle, typeof(Application.Participants.RandomizeParticipant)),
        new("/pharmacy", "Dose orders", Icons.Material.Filled.Science, typeof(Application.Pharmacy.ListDoseOrders)),
        new("/inventory", "Inventory", Icons.Material.Filled.Inventory2, typeof(Application.Inventory.ListLots)),
        new("/inventory/history", "Product history", Icons.Material.Filled.Timeline, typeof(Application.ChainOfCustody.GetProductHistory)),
        new("/bedside", "Bedside check", Icons.Material.Filled.QrCodeScanner, typeof(Application.Infusion.VerifyAtBedside)),
        new("/escalation", "Dose escalation", Icons.Material.Filled.Timeline, typeof(Application.DoseEscalation.GetEscalationStatus)),
        new("/schedule", "Schedule", Icons.Material.Filled.ListAlt, typeof(Application.Schedule.GenerateSchedule)),
        new("/unblinding", "Unblinding", Icons.Material.Filled.LockOpen, typeof(Application.Unblinding.ListUnblindingRequests)),
        new("/audit", "Audit trail", Icons.Material.Filled.FactCheck, typeof(Application.Audit.ListAuditEvents)),
        new("/exports", "Exports", Icons.Material.Filled.Download, typeof(Application.Exports.ExportBlindedParticipants)),
        new("/admin/users", "Users", Icons.Material.Filled.ManageAccounts, typeof(Application.Administration.ListUsers)),
        new("/admin/sites", "Sites", Icons.Material.Filled.LocationCity, typeof(Application.Administration.ListSites)),
        new("/admin/site-systems", "Site systems", Icons.Material.Filled.Hub, typeof(Application.Administration.ListSiteSystems)),
    ];
}

/// <summary>The phase as the header shows it.</summary>
public static class PhaseText
{
    public static string Of(EscalationState state) =>
        state.Stopped ? "Trial stopped"
        : state.ProceededToRandomizedPhase ? "Phase II · randomized, double-blind"
        : $"Phase I · cohort {state.CurrentCohort}";
}

/// <summary>
/// Within one browser session (a circuit): a page that has just moved the trial's phase on (a DSMB decision) tells the
/// header, which otherwise reads the phase only when the person navigates.
/// </summary>
public sealed class PhaseChanges
{
    public event Func<Task>? Changed;

    public Task AnnounceAsync() => Changed?.Invoke() ?? Task.CompletedTask;
}
