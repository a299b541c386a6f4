using System.Globalization;
using System.Text;
using Cratus.Randomization.Domain;
using Cratus.Randomization.Server.Audit;
using Cratus.Randomization.Server.Persistence;
using Cratus.Randomization.Server.Security;
using Microsoft.EntityFrameworkCore;
using QRCoder;

namespace Cratus.Randomization.Server.Application.Pharmacy;

/// <summary>
/// The bag label of a prepared dose. Every arm has the same fields, filled the same way: the participant, the
/// randomization number, the opaque product id, the use-by time (preparation start plus the window, for placebo too),
/// the storage line and the site; no treatment, cell count or volume. The QR code encodes the product id only.
/// </summary>
public sealed record DoseLabel(string Trial, string ParticipantId, string RandomizationNumber, string ProductId, DateTimeOffset UseBy, string Storage,
    string SiteCode, byte[] QrPng, string QrSvg)
{
    /// <summary>What a Phase I label prints in the randomization number's place (Phase I is not randomized).</summary>
    public const string PhaseOneNumber = "not randomized (Phase I)";

    /// <summary>The printed lines, label: value, in order; the same labels for every arm.</summary>
    public IReadOnlyList<string> Lines =>
    [
        $"Trial: {Trial}",
        "For clinical trial use only. Intravenous infusion.",
        $"Participant: {ParticipantId}",
        $"Randomization number: {RandomizationNumber}",
        $"Product id: {ProductId}",
        $"Use by: {UseBy.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC",
        $"Storage: {Storage}",
        $"Site: {SiteCode}",
        "Scan at the bedside with the participant's identifier before infusing.",
    ];

    /// <summary>The QR code of <paramref name="productId"/> as PNG and SVG: the id and nothing else, error correction M.</summary>
    public static (byte[] Png, string Svg) QrCodeOf(string productId)
    {
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(productId, QRCodeGenerator.ECCLevel.M);
        var png = new PngByteQRCode(data).GetGraphic(8);
        return (png, SvgOf(data));
    }

    /// <summary>One black square per dark module, with a four-module quiet zone; sized in modules, scaled by the page.</summary>
    private static string SvgOf(QRCodeData data)
    {
        var matrix = data.ModuleMatrix;
        var size = matrix.Count;
        var svg = new StringBuilder().Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code of the product id\">");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"");
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                if (matrix[y][x]) svg.Append(CultureInfo.InvariantCulture, $"M{x} {y}h1v1h-1z");
            }
        }
        return svg.Append("\"/></svg>").ToString();
    }
}

/// <summary>The label of a prepared dose, for the pharmacy to print. Every read is audited.</summary>
[Permitted(TrialRole.Pharmacist)]
public sealed class ReadDoseLabel(TrialDbContext db, TrialDefinition trial, ParticipantStore participants, AuditedReads reads)
    : UseCase<string, DoseLabel>
{
    protected override async Task<DoseLabel> ExecuteAsync(Caller caller, string productId, CancellationToken ct)
    {
        if (!DosePreparation.IsValidProductId(productId))
            throw TrialRuleException.Invalid("product_id", "product_id is required: the product id of the prepared dose, such as CP-7K3M9Q2XWD.");
        var dose = await db.DosePreparations.AsNoTracking().SingleOrDefaultAsync(d => d.ProductId == productId, ct);
        if (dose is null || !caller.MaySee(dose.SiteCode)) throw PreparedDoses.NotFound(productId);
        var participant = await participants.FindAsync(dose.ParticipantId, ct) ?? throw PreparedDoses.NotFound(productId);
        var number = participant.Phase == TrialPhase.Randomized
            ? (await participants.BlindedAsync(participants.Query(participant.ParticipantId), ct)).Single().RandomizationNumber
            : DoseLabel.PhaseOneNumber;
        var (png, svg) = DoseLabel.QrCodeOf(dose.ProductId);
        await reads.RecordAsync(new AuditedRead(AuditActor.From(caller), AuditActions.DoseLabelPrinted, dose.ParticipantId, dose.SiteCode), ct);
        return new DoseLabel(string.IsNullOrEmpty(trial.RegistryId) ? trial.TrialId : $"{trial.TrialId} ({trial.RegistryId})", dose.ParticipantId, number,
            dose.ProductId, dose.UseBy, trial.DoseHandling.LabelStorage, dose.SiteCode, png, svg);
    }
}
