using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Cratus.Randomization.Server.Persistence;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.PostgreSql.Migrations
{
    /// <inheritdoc />
    public partial class OneParticipantTable : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.RenameColumn(
                name: "RandomizedByRole",
                table: "Participants",
                newName: "EnrolledByRole");

            migrationBuilder.RenameColumn(
                name: "RandomizedBy",
                table: "Participants",
                newName: "EnrolledBy");

            migrationBuilder.RenameColumn(
                name: "RandomizedAt",
                table: "Participants",
                newName: "EnrolledAt");

            migrationBuilder.AlterColumn<int>(
                name: "StratumSequence",
                table: "Participants",
                type: "integer",
                nullable: true,
                oldClrType: typeof(int),
                oldType: "integer");

            migrationBuilder.AlterColumn<string>(
                name: "Stratum",
                table: "Participants",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true,
                oldClrType: typeof(string),
                oldType: "character varying(64)",
                oldMaxLength: 64);

            migrationBuilder.AlterColumn<long>(
                name: "ScheduleEntryId",
                table: "Participants",
                type: "bigint",
                nullable: true,
                oldClrType: typeof(long),
                oldType: "bigint");

            migrationBuilder.AddColumn<int>(
                name: "Cohort",
                table: "Participants",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "InfusedAt",
                table: "Participants",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "InfusionRecordedBy",
                table: "Participants",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Phase",
                table: "Participants",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "Randomized");

            migrationBuilder.AddColumn<int>(
                name: "Place",
                table: "Participants",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Status",
                table: "Participants",
                type: "character varying(16)",
                maxLength: 16,
                nullable: false,
                defaultValue: "Randomized");

            migrationBuilder.AddColumn<string>(
                name: "WithdrawalReason",
                table: "Participants",
                type: "character varying(1000)",
                maxLength: 1000,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "WithdrawnAt",
                table: "Participants",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Participants_Cohort_Place",
                table: "Participants",
                columns: new[] { "Cohort", "Place" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Participants_Phase_Status",
                table: "Participants",
                columns: new[] { "Phase", "Status" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Participants_Cohort_Place",
                table: "Participants");

            migrationBuilder.DropIndex(
                name: "IX_Participants_Phase_Status",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "Cohort",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "InfusedAt",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "InfusionRecordedBy",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "Phase",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "Place",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "Status",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "WithdrawalReason",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "WithdrawnAt",
                table: "Participants");

            migrationBuilder.RenameColumn(
                name: "EnrolledByRole",
                table: "Participants",
                newName: "RandomizedByRole");

            migrationBuilder.RenameColumn(
                name: "EnrolledBy",
                table: "Participants",
                newName: "RandomizedBy");

            migrationBuilder.RenameColumn(
                name: "EnrolledAt",
                table: "Participants",
                newName: "RandomizedAt");

            migrationBuilder.AlterColumn<int>(
                name: "StratumSequence",
                table: "Participants",
                type: "integer",
                nullable: false,
                defaultValue: 0,
                oldClrType: typeof(int),
                oldType: "integer",
                oldNullable: true);

            migrationBuilder.AlterColumn<string>(
                name: "Stratum",
                table: "Participants",
                type: "character varying(64)",
                maxLength: 64,
                nullable: false,
                defaultValue: "",
                oldClrType: typeof(string),
                oldType: "character varying(64)",
                oldMaxLength: 64,
                oldNullable: true);

            migrationBuilder.AlterColumn<long>(
                name: "ScheduleEntryId",
                table: "Participants",
                type: "bigint",
                nullable: false,
                defaultValue: 0L,
                oldClrType: typeof(long),
                oldType: "bigint",
                oldNullable: true);


        }
    }
}
