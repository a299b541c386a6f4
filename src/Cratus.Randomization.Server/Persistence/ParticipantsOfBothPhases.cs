namespace Cratus.Randomization.Server.Persistence;

/// <summary>
/// The data step of the MoveCohortEnrolmentsIntoParticipants migration (both providers): the Phase I participants move
/// from the former CohortEnrolments table into Participants, as they were (ids, seals, infusions and withdrawals
/// unchanged, so every seal still verifies), in their order of enrolment. The Phase II rows already there were marked
/// as such by OneParticipantTable (the default of its Phase and Status columns). A person found in both tables breaks
/// "a participant takes part once"; the unique index then stops the migration.
/// </summary>
internal static class ParticipantsOfBothPhases
{
    public const string MoveCohortEnrolments = """
        INSERT INTO "Participants" ("ParticipantId", "Phase", "Status", "SiteCode", "ScreeningId", "RequestId", "ProductCode",
            "EnrolledAt", "EnrolledBy", "EnrolledByRole", "Cohort", "Place", "AllocationSeal",
            "ConsentDate", "AgeAtConsent", "Sex", "ClinicalFrailtyScale", "MmseScore",
            "InfusedAt", "InfusionRecordedBy", "WithdrawnAt", "WithdrawalReason")
        SELECT "ParticipantId", 'DoseEscalation',
            CASE WHEN "WithdrawnAt" IS NOT NULL THEN 'Withdrawn' WHEN "InfusedAt" IS NOT NULL THEN 'Infused' ELSE 'Enrolled' END,
            "SiteCode", "ScreeningId", "RequestId", "ProductCode",
            "EnrolledAt", "EnrolledBy", '', "Cohort", "Place", "AllocationSeal",
            "ConsentDate", "AgeAtConsent", "Sex", "ClinicalFrailtyScale", "MmseScore",
            "InfusedAt", "InfusionRecordedBy", "WithdrawnAt", "WithdrawalReason"
        FROM "CohortEnrolments" ORDER BY "Id";
        """;
}
