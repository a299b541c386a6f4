using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.PostgreSql.Migrations
{
    /// <inheritdoc />
    public partial class IntegritySeals : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "EntrySeal",
                table: "ScheduleEntries",
                type: "character varying(80)",
                maxLength: 80,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "AllocationSeal",
                table: "Participants",
                type: "character varying(80)",
                maxLength: 80,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "AllocationSeal",
                table: "CohortEnrolments",
                type: "character varying(80)",
                maxLength: 80,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "KeyId",
                table: "AuditEvents",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "Mac",
                table: "AuditEvents",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                defaultValue: "");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "EntrySeal",
                table: "ScheduleEntries");

            migrationBuilder.DropColumn(
                name: "AllocationSeal",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "AllocationSeal",
                table: "CohortEnrolments");

            migrationBuilder.DropColumn(
                name: "KeyId",
                table: "AuditEvents");

            migrationBuilder.DropColumn(
                name: "Mac",
                table: "AuditEvents");
        }
    }
}
