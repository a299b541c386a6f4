using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.PostgreSql.Migrations
{
    /// <inheritdoc />
    public partial class ElectronicSignatures : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "FullName",
                table: "AspNetUsers",
                type: "character varying(200)",
                maxLength: 200,
                nullable: false,
                defaultValue: "");

            migrationBuilder.CreateTable(
                name: "SigningProofs",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    ProofHash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Signer = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Action = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    RecordId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    IssuedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    RedeemedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_SigningProofs", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Signatures",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Action = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    RecordId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    SignerUserName = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    SignerFullName = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    SignerRole = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    SignedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Meaning = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    RecordSha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    SigningProofId = table.Column<long>(type: "bigint", nullable: false),
                    AuditSequence = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Signatures", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Signatures_AuditEvents_AuditSequence",
                        column: x => x.AuditSequence,
                        principalTable: "AuditEvents",
                        principalColumn: "Sequence",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_Signatures_SigningProofs_SigningProofId",
                        column: x => x.SigningProofId,
                        principalTable: "SigningProofs",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Signatures_Action_RecordId",
                table: "Signatures",
                columns: new[] { "Action", "RecordId" });

            migrationBuilder.CreateIndex(
                name: "IX_Signatures_AuditSequence",
                table: "Signatures",
                column: "AuditSequence",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Signatures_SigningProofId",
                table: "Signatures",
                column: "SigningProofId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_SigningProofs_ProofHash",
                table: "SigningProofs",
                column: "ProofHash",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Signatures");

            migrationBuilder.DropTable(
                name: "SigningProofs");

            migrationBuilder.DropColumn(
                name: "FullName",
                table: "AspNetUsers");
        }
    }
}
