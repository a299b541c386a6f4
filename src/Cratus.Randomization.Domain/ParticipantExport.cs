using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CsvHelper;

namespace Cratus.Randomization.Domain;

/// <summary>The file forms a participant export comes in.</summary>
public enum ExportFormat
{
    /// <summary>Plain CSV with snake_case column names (docs/exports.md, "CSV").</summary>
    Csv,
    /// <summary>An ADaM ADSL-aligned dataset: CSV with CDISC variable names and conventions (docs/exports.md, "CDISC").</summary>
    Cdisc,
}

/// <summary>How a column's values are written: the same in both formats.</summary>
public enum ExportColumnType
{
    /// <summary>Free or coded text.</summary>
    Text,
    /// <summary>A whole number.</summary>
    Number,
    /// <summary>An ISO 8601 date (yyyy-MM-dd), in the trial's time zone.</summary>
    Date,
    /// <summary>An ISO 8601 date and time in UTC (yyyy-MM-ddTHH:mm:ssZ).</summary>
    DateTime,
    /// <summary>Y or N: always one character, so a flag never changes a row's length.</summary>
    Flag,
}

/// <summary>
/// One participant as an export sees them, both phases. <see cref="CohortDose"/> is null when the reader may not see it
/// (<see cref="EscalationState.DosesShown"/>); <see cref="Arm"/> is null in every blinded export and for Phase I.
/// </summary>
public sealed record ExportRow(
    string ParticipantId, string SiteCode, string ScreeningId, TrialPhase Phase, ParticipantStatus Status, string RandomizationNumber,
    int? Cohort, string? CohortDose, string ProductCode, DateTimeOffset EnrolledAt, DateOnly ConsentDate, int AgeAtConsent, Sex Sex, string? Stratum,
    DateTimeOffset? InfusedAt, DateTimeOffset? WithdrawnAt, string? WithdrawalReason, DateTimeOffset? EmergencyUnblindedAt, ArmDefinition? Arm,
    DateTimeOffset? RandomizedInErrorAt = null, RandomizedInErrorType? RandomizedInErrorType = null, string? RandomizedInErrorReason = null,
    Sex? CorrectSex = null, string? CorrectSiteCode = null);

/// <summary>What every row of one export shares: the study, the mode it runs in, and the time zone of its dates.</summary>
public sealed record ExportContext(string StudyId, TrialMode Mode, TimeZoneInfo TimeZone);

/// <summary>
/// One column of the participant export: its CSV name and its CDISC variable name (null where the format leaves it
/// out), label, type, origin, and when it has a value. <see cref="Unblinded"/> columns exist only in an unblinded
/// export, header included. docs/exports.md describes each one; adding a column is one line of <see cref="ParticipantExport.Columns"/>.
/// </summary>
public sealed record ExportColumn(
    string? CsvName, string? CdiscName, string Label, ExportColumnType Type, string Origin, string Present,
    Func<ExportContext, ExportRow, object?> Value, bool Unblinded = false)
{
    /// <summary>The column's name in <paramref name="format"/>, or null when that format leaves it out.</summary>
    public string? NameIn(ExportFormat format) => format == ExportFormat.Csv ? CsvName : CdiscName;
}

/// <summary>A finished export file: its name, content type, bytes, rows, SHA-256 digest (lowercase hex) and the trial mode it was taken in.</summary>
public sealed record ExportFile(string FileName, string ContentType, byte[] Content, int Rows, string Sha256, string TrialMode)
{
    /// <summary>The file's SHA-256 digest as lowercase hex, as the reply and the audit trail carry it.</summary>
    public static string DigestOf(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));
}

/// <summary>
/// The participant export (issue #15, docs/exports.md): one list of columns for both formats, written as RFC 4180 CSV
/// in UTF-8 without a byte order mark. A blinded export has no arm anywhere: the unblinded columns are left out, header
/// included, and no value of the other columns is computed from an arm, so the file's size and shape do not depend on
/// the arms. The trial mode is in the file name and in a column of every row.
/// </summary>
public static class ParticipantExport
{
    public const string ContentType = "text/csv; charset=utf-8; header=present";

    private const string Site = "Collected at enrolment or randomization";
    private const string Service = "Assigned by the service";

    /// <summary>Every column, in file order.</summary>
    public static readonly IReadOnlyList<ExportColumn> Columns =
    [
        new("trial_mode", "TRIALMOD", "Trial mode (PRODUCTION, UAT or TRAINING)", ExportColumnType.Text, "Server start-up option Trial:Mode", "Always", (c, _) => ModeCode(c.Mode)),
        new("study_id", "STUDYID", "Study identifier", ExportColumnType.Text, "Trial definition (trialId)", "Always", (c, _) => c.StudyId),
        new(null, "USUBJID", "Unique subject identifier", ExportColumnType.Text, "Derived: STUDYID-SUBJID", "Always", (c, r) => $"{c.StudyId}-{r.ParticipantId}"),
        new("participant_id", "SUBJID", "Subject identifier for the study", ExportColumnType.Text, Service, "Always", (_, r) => r.ParticipantId),
        new("site_id", "SITEID", "Study site identifier", ExportColumnType.Text, Site, "Always", (_, r) => r.SiteCode),
        new("screening_id", "SCRNID", "Screening identifier at the site", ExportColumnType.Text, Site, "Always", (_, r) => r.ScreeningId),
        new("phase", "PHASE", "Trial phase (PHASE I dose escalation, PHASE II randomized)", ExportColumnType.Text, Service, "Always", (_, r) => PhaseCode(r.Phase)),
        new("status", "PTSTAT", "Participant status (ENROLLED, RANDOMIZED, INFUSED, WITHDRAWN)", ExportColumnType.Text, Service, "Always", (_, r) => r.Status.ToString().ToUpperInvariant()),
        new(null, "EOSSTT", "End of study status (ONGOING or DISCONTINUED)", ExportColumnType.Text, "Derived from the withdrawal", "Always", (_, r) => r.WithdrawnAt is null ? "ONGOING" : "DISCONTINUED"),
        new("cohort", "COHORT", "Phase I cohort (open label)", ExportColumnType.Number, Service, "Phase I", (_, r) => r.Cohort),
        new("cohort_dose", "COHDOSE", "Phase I cohort dose", ExportColumnType.Text, "Trial definition (the cohort's dose)", "Phase I, unless blinded and the randomized phase has begun", (_, r) => r.CohortDose),
        new("enrolled_at", "ENRLDTM", "Date/time of enrolment in the cohort", ExportColumnType.DateTime, Service, "Phase I", (_, r) => r.Phase == TrialPhase.DoseEscalation ? r.EnrolledAt : null),
        new("randomization_number", "RANDNUM", "Randomization number", ExportColumnType.Text, "Schedule entry allocated", "Phase II", (_, r) => r.RandomizationNumber),
        new(null, "RANDDT", "Date of randomization", ExportColumnType.Date, Service, "Phase II", (_, r) => r.Phase == TrialPhase.Randomized ? r.EnrolledAt : null),
        new("randomized_at", "RANDDTM", "Date/time of randomization", ExportColumnType.DateTime, Service, "Phase II", (_, r) => r.Phase == TrialPhase.Randomized ? r.EnrolledAt : null),
        new("stratum", "STRATAR", "Stratum used for randomization (site/sex)", ExportColumnType.Text, "Derived from SITEID and SEX at randomization", "Phase II", (_, r) => r.Stratum),
        new("sex", "SEX", "Sex (F or M)", ExportColumnType.Text, Site, "Always", (_, r) => r.Sex == Sex.Female ? "F" : "M"),
        new("age_at_consent", "AGE", "Age at informed consent", ExportColumnType.Number, Site, "Always", (_, r) => r.AgeAtConsent),
        new(null, "AGEU", "Age units", ExportColumnType.Text, "Assigned", "Always", (_, _) => "YEARS"),
        new("consent_date", "RFICDT", "Date of informed consent", ExportColumnType.Date, Site, "Always", (_, r) => r.ConsentDate),
        new("product_code", "PRODCD", "Opaque product code on the label (the same form for every arm)", ExportColumnType.Text, Service, "Always", (_, r) => r.ProductCode),
        new("infused_at", "TRTSDTM", "Date/time of the infusion (first exposure)", ExportColumnType.DateTime, "Recorded by the site", "Once infused", (_, r) => r.InfusedAt),
        new("withdrawn", "WDFL", "Withdrawn flag", ExportColumnType.Flag, "Derived from the withdrawal", "Always", (_, r) => r.WithdrawnAt is not null),
        new("withdrawn_at", "WDDTM", "Date/time of withdrawal", ExportColumnType.DateTime, "Recorded by the site", "Once withdrawn", (_, r) => r.WithdrawnAt),
        new("withdrawal_reason", "DCSREAS", "Reason for withdrawal", ExportColumnType.Text, "Recorded by the site", "Once withdrawn", (_, r) => r.WithdrawalReason),
        new("emergency_unblinded", "EMUNBLFL", "Emergency unblinding flag", ExportColumnType.Flag, "Derived from the emergency unblinding", "Always", (_, r) => r.EmergencyUnblindedAt is not null),
        new("emergency_unblinded_at", "EMUNBLDT", "Date of emergency unblinding", ExportColumnType.Date, "Recorded by the emergency unblinding", "Once unblinded in an emergency", (_, r) => r.EmergencyUnblindedAt),
        new("randomized_in_error", "RIEFL", "Randomized in error flag", ExportColumnType.Flag, "Recorded by the investigator (signed)", "Always", (_, r) => r.RandomizedInErrorAt is not null),
        new("randomized_in_error_type", "RIETYPE", "Type of error (INELIGIBLE, WRONG STRATUM)", ExportColumnType.Text, "Recorded by the investigator", "Once marked",
            (_, r) => r.RandomizedInErrorType switch { Domain.RandomizedInErrorType.Ineligible => "INELIGIBLE", Domain.RandomizedInErrorType.WrongStratum => "WRONG STRATUM", _ => null }),
        new("randomized_in_error_reason", "RIEREAS", "Reason given", ExportColumnType.Text, "Recorded by the investigator", "Once marked", (_, r) => r.RandomizedInErrorReason),
        new("randomized_in_error_at", "RIEDTM", "Date/time marked in error", ExportColumnType.DateTime, Service, "Once marked", (_, r) => r.RandomizedInErrorAt),
        new("correct_sex", "RIESEX", "Correct sex (mis-stratified participants)", ExportColumnType.Text, "Recorded by the investigator", "Once marked with a wrong sex",
            (_, r) => r.CorrectSex switch { Sex.Female => "F", Sex.Male => "M", _ => null }),
        new("correct_site_id", "RIESITE", "Correct site (mis-stratified participants)", ExportColumnType.Text, "Recorded by the investigator", "Once marked with a wrong site", (_, r) => r.CorrectSiteCode),
        new("arm_code", "ARMCD", "Planned arm code", ExportColumnType.Text, "Opened from the sealed schedule", "Unblinded export, Phase II", (_, r) => r.Arm?.Code, Unblinded: true),
        new("arm", "ARM", "Description of planned arm", ExportColumnType.Text, "Trial definition (the arm's treatment)", "Unblinded export, Phase II", (_, r) => r.Arm?.Treatment, Unblinded: true),
    ];

    /// <summary>The columns of one export: those of the format, without the unblinded ones unless <paramref name="unblinded"/>.</summary>
    public static IReadOnlyList<ExportColumn> ColumnsOf(ExportFormat format, bool unblinded) =>
        [.. Columns.Where(c => c.NameIn(format) is not null && (unblinded || !c.Unblinded))];

    /// <summary>
    /// The export file. <paramref name="scope"/> names it ("blinded", or "unblinded-U-4TABMY0X"); a blinded export
    /// refuses a row that carries an arm, so a mistake upstream fails closed instead of leaking.
    /// </summary>
    public static ExportFile Write(ExportContext context, ExportFormat format, string scope, bool unblinded, IReadOnlyList<ExportRow> rows, DateTimeOffset at)
    {
        if (!unblinded && rows.Any(r => r.Arm is not null)) throw new InvalidOperationException("a blinded export was given an arm");
        var columns = ColumnsOf(format, unblinded);
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = CsvWriter.Create(text, CsvWriterOptions.Default with { Mode = CsvMode.Rfc4180, NewLine = "\r\n", FormatProvider = CultureInfo.InvariantCulture }, leaveOpen: true))
        {
            csv.WriteHeader([.. columns.Select(c => c.NameIn(format)!)]);
            foreach (var row in rows)
            {
                foreach (var column in columns) csv.WriteField(Render(column.Type, column.Value(context, row), context.TimeZone));
                csv.EndRecord();
            }
        }
        var content = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text.ToString());
        var kind = format == ExportFormat.Csv ? "participants" : "adsl";
        var fileName = $"{context.StudyId}_{ModeCode(context.Mode)}_{kind}_{scope}_{at.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}.csv";
        return new ExportFile(fileName, ContentType, content, rows.Count, ExportFile.DigestOf(content), ModeCode(context.Mode));
    }

    /// <summary>The trial mode as exports write it: PRODUCTION, UAT or TRAINING.</summary>
    public static string ModeCode(TrialMode mode) => mode.ToString().ToUpperInvariant();

    private static string PhaseCode(TrialPhase phase) => phase == TrialPhase.DoseEscalation ? "PHASE I" : "PHASE II";

    private static string Render(ExportColumnType type, object? value, TimeZoneInfo zone) => value switch
    {
        null => "",
        bool flag => flag ? "Y" : "N",
        int number => number.ToString(CultureInfo.InvariantCulture),
        DateOnly date => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateTimeOffset moment when type == ExportColumnType.Date =>
            TimeZoneInfo.ConvertTime(moment, zone).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateTimeOffset moment => moment.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        string s => s,
        _ => throw new InvalidOperationException($"an export value of type {value.GetType().Name} has no written form"),
    };
}
