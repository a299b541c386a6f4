using System.Globalization;
using Cratus.Randomization.Server.Application;

namespace Cratus.Randomization.Server.Web;

/// <summary>How the pharmacy's pages word a dose order (unblinded pages only).</summary>
public static class DoseOrderText
{
    public static bool IsPhaseOne(PharmacyOrder order) => order.ArmCode.Length == 0;

    public static string NumberOrCohort(PharmacyOrder order) =>
        IsPhaseOne(order) ? $"cohort {order.Cohort}" : order.Assignment.RandomizationNumber;

    public static string Arm(PharmacyOrder order) => IsPhaseOne(order) ? "Phase I (open label)" : order.ArmCode;

    public static string Content(PharmacyOrder order) =>
        order.Placebo ? "Placebo" : $"{order.CellCount.ToString("N0", CultureInfo.InvariantCulture)} cells";
}
